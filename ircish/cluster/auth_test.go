package cluster

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"ircish/ircish/server"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"ircish/internal/chattest"
	"ircish/internal/natstest"
)

// A cluster whose NATS asks for TLS: servers that trust its certificate's
// CA (Cluster.CA) share the room through it; a server that does not is
// told why it cannot join.
func TestClusterOverTLS(t *testing.T) {
	cert := chattest.SelfSigned(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	ns := startNATS(t, func(o *natsserver.Options) {
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	url := ns.ClientURL()
	if !strings.HasPrefix(url, "tls://") {
		t.Fatalf("NATS's URL is %s, want tls://", url)
	}

	wantJoinError(t, Config{URLs: url, Name: "s0"}, "certificate signed by unknown authority")

	shareRoom(t, Config{URLs: url, CA: ca})
}

// A cluster whose NATS asks for a user's JWT, signed by an account its
// operator vouches for: servers with the user's credentials file
// (Cluster.Creds) share the room through it; a server without is told
// why it cannot join.
func TestClusterWithCreds(t *testing.T) {
	ns := startOperatorNATS(t)
	creds := filepath.Join(t.TempDir(), "ircish.creds")
	ns.writeCreds(t, creds)

	wantJoinError(t, Config{URLs: ns.ClientURL(), Name: "s0"}, "Authorization Violation")

	shareRoom(t, Config{URLs: ns.ClientURL(), Creds: creds})
}

// shareRoom checks that two servers that join c share a room: a user of
// one sees a user of the other join and talk.
func shareRoom(t *testing.T, c Config) {
	t.Helper()
	c.Name = "s1"
	ann := chattest.Register(t, joinCluster(t, &testServer{Server: &server.Server{FloodRate: -1}}, c), "ann")
	c.Name = "s2"
	bob := chattest.Register(t, joinCluster(t, &testServer{Server: &server.Server{FloodRate: -1}}, c), "bob")
	ann.Expect("^JOINED bob$")
	bob.Send("MSG hello")
	ann.Expect("^MSG bob hello$")
}

// A record on a subject that NATS does not let the server publish on is
// refused for good: answered to its member with ERR REFUSED and dropped,
// and the records after it go on.
func TestClusterRecordDeniedByNATS(t *testing.T) {
	ns := startNATS(t, func(o *natsserver.Options) {
		o.Users = []*natsserver.User{{Username: "chat", Password: "secret", Permissions: &natsserver.Permissions{
			Publish: &natsserver.SubjectPermission{Allow: []string{">"}, Deny: []string{sayingsSubject}},
		}}}
	})
	url := strings.Replace(ns.ClientURL(), "nats://", "nats://chat:secret@", 1)
	addr := joinCluster(t, &testServer{Server: &server.Server{FloodRate: -1}}, Config{URLs: url, Name: "s1"})
	ann := chattest.Register(t, addr, "ann")
	bob := chattest.Register(t, addr, "bob")
	ann.Send("MSG hello")
	ann.Expect(`^ERR REFUSED the cluster's NATS does not let this server publish on ircish\.say: this was dropped$`)
	ann.Send("NICK anna")
	bob.Expect("^RENAMED ann anna$")
	if got := bob.Seen; slices.ContainsFunc(got, func(l string) bool { return strings.Contains(l, "hello") }) {
		t.Errorf("bob saw the refused line: %q", got)
	}
}

// A server whose credentials NATS refuses when it comes back goes on
// trying, logs why once, and serves again once its credentials file is
// put right. (nats.go on its own gives up for good at the second refusal.)
func TestClusterCredsRefusedThenRenewed(t *testing.T) {
	ns := startOperatorNATS(t)
	creds := filepath.Join(t.TempDir(), "ircish.creds")
	user := ns.writeCreds(t, creds)
	var log chattest.LogBuffer
	s := &testServer{Server: &server.Server{FloodRate: -1, Log: log.Logger()}}
	addr := joinCluster(t, s, Config{URLs: ns.ClientURL(), Creds: creds, Name: "s1"})

	ns.Stop()
	chattest.WaitFor(t, "the server to fence itself", s.cluster.fenced.Load)
	ns.setAccount(t, func(c *jwt.AccountClaims) { c.Revoke(user) })
	check(t, ns.Restart())
	refusals := new(refusalCounter)
	ns.SetLoggerV2(refusals, false, false, false)
	chattest.WaitFor(t, "three refusals of the revoked user", func() bool { return refusals.count.Load() >= 3 })
	if got := strings.Count(log.String(), `msg="nats error" err="nats: authorization violation"`); got != 1 {
		t.Errorf("the refusal is logged %d times, want once; log:\n%s", got, log.String())
	}

	ns.writeCreds(t, creds)
	chattest.WaitFor(t, "the server to serve again", func() bool { return !s.cluster.fenced.Load() })
	chattest.Register(t, addr, "ann")
}

// An operatorNATS is a NATS server in operator mode (JWT accounts), with a
// system account and an account with JetStream, whose users' credentials
// it writes.
type operatorNATS struct {
	*natstest.Node
	operator nkeys.KeyPair
	resolver *natsserver.MemAccResolver
	account  nkeys.KeyPair
}

func startOperatorNATS(t *testing.T) *operatorNATS {
	t.Helper()
	operator, err := nkeys.CreateOperator()
	check(t, err)
	operatorID, err := operator.PublicKey()
	check(t, err)
	token, err := jwt.NewOperatorClaims(operatorID).Encode(operator)
	check(t, err)
	operatorClaims, err := jwt.DecodeOperatorClaims(token)
	check(t, err)
	o := &operatorNATS{operator: operator, resolver: &natsserver.MemAccResolver{}}
	system, err := nkeys.CreateAccount()
	check(t, err)
	systemID, err := system.PublicKey()
	check(t, err)
	o.store(t, jwt.NewAccountClaims(systemID))
	o.account, err = nkeys.CreateAccount()
	check(t, err)
	o.setAccount(t, nil)
	o.Node = startNATS(t, func(opts *natsserver.Options) {
		opts.TrustedOperators = []*jwt.OperatorClaims{operatorClaims}
		opts.AccountResolver = o.resolver
		opts.SystemAccount = systemID
	})
	return o
}

// setAccount gives NATS the claims of the account, with JetStream and
// what set sets.
func (o *operatorNATS) setAccount(t *testing.T, set func(*jwt.AccountClaims)) {
	t.Helper()
	id, err := o.account.PublicKey()
	check(t, err)
	claims := jwt.NewAccountClaims(id)
	claims.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	if set != nil {
		set(claims)
	}
	o.store(t, claims)
}

func (o *operatorNATS) store(t *testing.T, claims *jwt.AccountClaims) {
	t.Helper()
	token, err := claims.Encode(o.operator)
	check(t, err)
	check(t, o.resolver.Store(claims.Subject, token))
}

// writeCreds writes to file the credentials of a new user of the account,
// and returns the user's id.
func (o *operatorNATS) writeCreds(t *testing.T, file string) string {
	t.Helper()
	user, err := nkeys.CreateUser()
	check(t, err)
	id, err := user.PublicKey()
	check(t, err)
	token, err := jwt.NewUserClaims(id).Encode(o.account)
	check(t, err)
	seed, err := user.Seed()
	check(t, err)
	creds, err := jwt.FormatUserConfig(token, seed)
	check(t, err)
	check(t, os.WriteFile(file, creds, 0o600))
	return id
}

// A refusalCounter is a NATS server's logger that counts the clients it
// refused.
type refusalCounter struct{ count atomic.Int32 }

func (r *refusalCounter) Errorf(format string, v ...any) {
	if strings.Contains(fmt.Sprintf(format, v...), "authentication error") {
		r.count.Add(1)
	}
}
func (*refusalCounter) Noticef(string, ...any) {}
func (*refusalCounter) Warnf(string, ...any)   {}
func (*refusalCounter) Fatalf(string, ...any)  {}
func (*refusalCounter) Debugf(string, ...any)  {}
func (*refusalCounter) Tracef(string, ...any)  {}

// wantJoinError checks that a server cannot join c, with an error that
// says want, and that it says so as soon as NATS has refused it, rather
// than once its wait for NATS is over.
func wantJoinError(t *testing.T, c Config, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	start := time.Now()
	err := new(server.Server).UseEngine(ctx, New(c))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("UseEngine: got error %v, want one that says %q", err, want)
	}
	if took := time.Since(start); took > chattest.WaitTimeout/2 {
		t.Errorf("UseEngine took %v to give up, most of its wait of %v", took.Round(time.Millisecond), chattest.WaitTimeout)
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
