package clientcmd

import "testing"

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args       []string
		tls        bool
		nick, addr string
		err        string
	}{
		{[]string{"duck"}, false, "duck", "127.0.0.1:12000", ""},
		{[]string{"duck"}, true, "duck", "127.0.0.1:12443", ""},
		{[]string{"duck", "example.org"}, true, "duck", "example.org:12443", ""},
		{[]string{"duck", "::1", "7000"}, true, "duck", "[::1]:7000", ""},
		{[]string{"duck", "h", "0"}, false, "", "", `invalid port "0": want a number from 1 to 65535`},
	}
	for _, tt := range tests {
		nick, addr, err := parseArgs(tt.args, tt.tls)
		errText := ""
		if err != nil {
			errText = err.Error()
		}
		if nick != tt.nick || addr != tt.addr || errText != tt.err {
			t.Errorf("parseArgs(%q, %v) = %q, %q, %q; want %q, %q, %q",
				tt.args, tt.tls, nick, addr, errText, tt.nick, tt.addr, tt.err)
		}
	}
}
