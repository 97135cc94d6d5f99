//go:build linux

package servercmd

import (
	"net"
	"syscall"
	"testing"
)

func TestKeepAliveIdleTimesDiffer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	kl := keepAliveListener{l}
	defer kl.Close()
	const n = 20
	idles := map[int]bool{}
	for range n {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conn, err := kl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		opts := map[string]int{}
		raw, err := conn.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		raw.Control(func(fd uintptr) {
			for name, opt := range map[string][2]int{
				"SO_KEEPALIVE":  {syscall.SOL_SOCKET, syscall.SO_KEEPALIVE},
				"TCP_KEEPIDLE":  {syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE},
				"TCP_KEEPINTVL": {syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL},
				"TCP_KEEPCNT":   {syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT},
			} {
				if opts[name], err = syscall.GetsockoptInt(int(fd), opt[0], opt[1]); err != nil {
					t.Fatalf("getsockopt %s: %v", name, err)
				}
			}
		})
		idle := opts["TCP_KEEPIDLE"]
		if opts["SO_KEEPALIVE"] != 1 || idle < 30 || idle >= 60 || opts["TCP_KEEPINTVL"] != 10 || opts["TCP_KEEPCNT"] != 3 {
			t.Fatalf("accepted connection's keepalive: %v; want it on, idle in [30, 60) s, probes every 10 s, 3 of them", opts)
		}
		idles[idle] = true
	}
	if len(idles) < 2 {
		t.Errorf("%d connections all probe after %v s of silence, want idle times spread", n, idles)
	}
}
