package password

import (
	"errors"
	"strings"
	"testing"
)

func TestHashThenCheck(t *testing.T) {
	h := Hash("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("Hash = %q, want OWASP's parameters in PHC form", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatalf("the hash %q holds the password", h)
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{
		{"correct horse", true},
		{"correct horsE", false},
		{"correct horse ", false},
		{"", false},
	} {
		ok, err := Check(h, tc.password)
		if err != nil || ok != tc.want {
			t.Errorf("Check(%q) = %v, %v; want %v", tc.password, ok, err, tc.want)
		}
	}
	if Hash("correct horse") == h {
		t.Error("two hashes of one password are the same: no salt")
	}
}

// Hashes made by the reference implementation (Debian's argon2 command:
// echo -n "correct horse" | argon2 somesaltsalt -id -t 2 -m 15 -p 1 -l 32 -e)
// check, with their own parameters.
func TestCheckReferenceHashes(t *testing.T) {
	for _, h := range []string{
		"$argon2id$v=19$m=32768,t=2,p=1$c29tZXNhbHRzYWx0$mCkJ8hqBGcFTF4Hv1EOO92apHnbZUXjxzr5OqlPcRR0",
		"$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzYWx0$k46s1bxeicaXXBi8JLbm1A33/YZuTXTrOTSgdUJTYUk",
	} {
		if ok, err := Check(h, "correct horse"); !ok || err != nil {
			t.Errorf("Check(%s) = %v, %v; want true", h, ok, err)
		}
		if ok, err := Check(h, "wrong horse"); ok || err != nil {
			t.Errorf("Check(%s, wrong) = %v, %v; want false", h, ok, err)
		}
	}
}

func TestBadHashes(t *testing.T) {
	for _, h := range []string{
		"",
		"correct horse",
		"$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHRzYWx0$mCkJ8hqBGcFTF4Hv1EOO92apHnbZUXjxzr5OqlPcRR0",
		"$argon2id$v=16$m=19456,t=2,p=1$c29tZXNhbHRzYWx0$mCkJ8hqBGcFTF4Hv1EOO92apHnbZUXjxzr5OqlPcRR0",
		"$argon2id$v=19$m=19456,t=2,p=1x$c29tZXNhbHRzYWx0$mCkJ8hqBGcFTF4Hv1EOO92apHnbZUXjxzr5OqlPcRR0",
		"$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHRzYWx0$mCkJ8hqBGcFTF4Hv1EOO92apHnbZUXjxzr5OqlPcRR0", // 4 GiB
		"$argon2id$v=19$m=19456,t=1000,p=1$c29tZXNhbHRzYWx0$mCkJ8hqBGcFTF4Hv1EOO92apHnbZUXjxzr5OqlPcRR0",
		"$argon2id$v=19$m=19456,t=2,p=0$c29tZXNhbHRzYWx0$mCkJ8hqBGcFTF4Hv1EOO92apHnbZUXjxzr5OqlPcRR0",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$mCkJ8hqBGcFTF4Hv1EOO92apHnbZUXjxzr5OqlPcRR0",
		"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzYWx0$c2hvcnQ",
		"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzYWx0$mCkJ8hqBGcFTF4Hv1EOO92apHnbZUXjxzr5OqlPcRR0$",
	} {
		if err := Valid(h); !errors.Is(err, ErrBadHash) {
			t.Errorf("Valid(%q) = %v, want ErrBadHash", h, err)
		}
		if ok, err := Check(h, "correct horse"); ok || !errors.Is(err, ErrBadHash) {
			t.Errorf("Check(%q) = %v, %v; want ErrBadHash", h, ok, err)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	for range b.N {
		Hash("correct horse battery staple")
	}
}
