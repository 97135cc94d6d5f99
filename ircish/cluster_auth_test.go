package ircish

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// A cluster whose NATS asks for TLS: servers that trust its certificate's
// CA (Cluster.CA) share the room through it; a server that does not is
// told why it cannot join.
func TestClusterOverTLS(t *testing.T) {
	cert := selfSigned(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	ns := startNATS(t, func(o *server.Options) {
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	url := ns.ClientURL()
	if !strings.HasPrefix(url, "tls://") {
		t.Fatalf("NATS's URL is %s, want tls://", url)
	}

	wantJoinError(t, Cluster{URLs: url, Name: "s0"}, "certificate signed by unknown authority")

	ann := register(t, joinCluster(t, &Server{FloodRate: -1}, Cluster{URLs: url, CA: ca, Name: "s1"}), "ann")
	bob := register(t, joinCluster(t, &Server{FloodRate: -1}, Cluster{URLs: url, CA: ca, Name: "s2"}), "bob")
	ann.expect("^JOINED bob$")
	bob.send("MSG over TLS")
	ann.expect("^MSG bob over TLS$")
}

// A cluster whose NATS asks for a user's JWT, signed by an account its
// operator vouches for: servers with the user's credentials file
// (Cluster.Creds) share the room through it; a server without is told
// why it cannot join.
func TestClusterWithCreds(t *testing.T) {
	operator, operatorClaims := newOperator(t)
	resolver := &server.MemAccResolver{}
	system, _ := newAccount(t, operator, resolver, nil)
	_, account := newAccount(t, operator, resolver, func(c *jwt.AccountClaims) {
		c.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	})
	ns := startNATS(t, func(o *server.Options) {
		o.TrustedOperators = []*jwt.OperatorClaims{operatorClaims}
		o.AccountResolver = resolver
		o.SystemAccount = system
	})

	user, err := nkeys.CreateUser()
	check(t, err)
	userID, err := user.PublicKey()
	check(t, err)
	userJWT, err := jwt.NewUserClaims(userID).Encode(account)
	check(t, err)
	seed, err := user.Seed()
	check(t, err)
	creds, err := jwt.FormatUserConfig(userJWT, seed)
	check(t, err)
	credsFile := filepath.Join(t.TempDir(), "ircish.creds")
	check(t, os.WriteFile(credsFile, creds, 0o600))

	wantJoinError(t, Cluster{URLs: ns.ClientURL(), Name: "s0"}, "Authorization Violation")

	ann := register(t, joinCluster(t, &Server{FloodRate: -1}, Cluster{URLs: ns.ClientURL(), Creds: credsFile, Name: "s1"}), "ann")
	bob := register(t, joinCluster(t, &Server{FloodRate: -1}, Cluster{URLs: ns.ClientURL(), Creds: credsFile, Name: "s2"}), "bob")
	ann.expect("^JOINED bob$")
	bob.send("MSG with credentials")
	ann.expect("^MSG bob with credentials$")
}

// newOperator returns the key pair of a new NATS operator, and its
// self-signed claims.
func newOperator(t *testing.T) (nkeys.KeyPair, *jwt.OperatorClaims) {
	t.Helper()
	operator, err := nkeys.CreateOperator()
	check(t, err)
	id, err := operator.PublicKey()
	check(t, err)
	claims := jwt.NewOperatorClaims(id)
	token, err := claims.Encode(operator)
	check(t, err)
	claims, err = jwt.DecodeOperatorClaims(token)
	check(t, err)
	return operator, claims
}

// newAccount makes an account, signed by operator, with the claims set
// sets, known to resolver. It returns its id and its key pair.
func newAccount(t *testing.T, operator nkeys.KeyPair, resolver *server.MemAccResolver, set func(*jwt.AccountClaims)) (string, nkeys.KeyPair) {
	t.Helper()
	account, err := nkeys.CreateAccount()
	check(t, err)
	id, err := account.PublicKey()
	check(t, err)
	claims := jwt.NewAccountClaims(id)
	if set != nil {
		set(claims)
	}
	token, err := claims.Encode(operator)
	check(t, err)
	check(t, resolver.Store(id, token))
	return id, account
}

// wantJoinError checks that a server cannot join c, with an error that
// says want.
func wantJoinError(t *testing.T, c Cluster, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := new(Server).JoinCluster(ctx, c)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("JoinCluster: got error %v, want one that says %q", err, want)
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
