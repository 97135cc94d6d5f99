// Package password hashes passwords with argon2id (RFC 9106), and checks
// a password against such a hash, in the PHC string format that other
// argon2 tools read and write:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// (salt and hash in unpadded standard base64). New hashes use OWASP's
// parameters for argon2id: 19 MiB of memory, 2 passes, one lane, a 16-byte
// random salt and a 32-byte hash; a hash made elsewhere with other
// parameters is checked with its own, within bounds (MaxMemory), so that
// a hostile hash cannot make a check take the machine's memory.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// The parameters of new hashes.
const (
	Memory  = 19 * 1024 // KiB
	Time    = 2
	Threads = 1
	saltLen = 16
	keyLen  = 32
)

// MaxMemory is the most memory, in KiB, a hash may ask of a check: 256 MiB.
const MaxMemory = 256 * 1024

// Limits on a password's length, in bytes.
const (
	MinLen = 8
	MaxLen = 256
)

// ErrBadHash is returned for a string that is not an argon2id hash this
// package can check.
var ErrBadHash = errors.New("password: not an argon2id hash ($argon2id$v=19$m=...,t=...,p=...$salt$hash)")

// Hash returns the argon2id hash of password, with a new random salt.
func Hash(password string) string {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails (see crypto/rand)
	key := argon2.IDKey([]byte(password), salt, Time, Memory, Threads, keyLen)
	return format(params{Memory, Time, Threads}, salt, key)
}

// Check reports whether password is the one hash was made of, comparing
// in constant time. It returns ErrBadHash for a hash it cannot read.
func Check(hash, password string) (bool, error) {
	p, salt, key, err := parse(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// Valid returns ErrBadHash, said more precisely, unless hash can be
// checked.
func Valid(hash string) error {
	_, _, _, err := parse(hash)
	return err
}

type params struct {
	memory  uint32
	time    uint32
	threads uint8
}

func format(p params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parse reads a hash that format wrote, or another argon2id tool, within
// the bounds that keep a check affordable.
func parse(hash string) (p params, salt, key []byte, err error) {
	fields := strings.Split(hash, "$")
	if len(fields) != 6 || fields[0] != "" || fields[1] != "argon2id" {
		return p, nil, nil, ErrBadHash
	}
	if fields[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: version %q, want v=%d", ErrBadHash, fields[2], argon2.Version)
	}
	var m, t, threads uint64
	n, err := fmt.Sscanf(fields[3], "m=%d,t=%d,p=%d", &m, &t, &threads)
	if n != 3 || err != nil || fmt.Sprintf("m=%d,t=%d,p=%d", m, t, threads) != fields[3] {
		return p, nil, nil, fmt.Errorf("%w: parameters %q", ErrBadHash, fields[3])
	}
	if m < 8*threads || m > MaxMemory || t < 1 || t > 16 || threads < 1 || threads > 16 {
		return p, nil, nil, fmt.Errorf("%w: parameters %q out of bounds (m at most %d, t and p from 1 to 16)", ErrBadHash, fields[3], MaxMemory)
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(fields[4])
	key, err2 := b64.DecodeString(fields[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, fmt.Errorf("%w: salt or hash", ErrBadHash)
	}
	return params{uint32(m), uint32(t), uint8(threads)}, salt, key, nil
}
