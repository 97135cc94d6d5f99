package ircish

import (
	"slices"
	"testing"
)

func TestSearchWords(t *testing.T) {
	tests := []struct {
		s    string
		want []string
	}{
		{"", nil},
		{"  \t ", nil},
		{"!! ... *", nil},
		{"quick fox", []string{"quick", "fox"}},
		{"  Quick\tfox  ", []string{"Quick", "fox"}},
		{"don't", []string{"don't"}},
		{`"quick" OR NEAR( quick* ?!`, []string{`"quick"`, "OR", "NEAR(", "quick*"}},
		{"42 ½", []string{"42", "½"}},
		{"café 日本語", []string{"café", "日本語"}},
		{"\ue000", []string{"\ue000"}}, // private use (Co): a letter to the tokenizer
		{"🎉", nil},
	}
	for _, c := range tests {
		if got := SearchWords(c.s); !slices.Equal(got, c.want) {
			t.Errorf("SearchWords(%q) = %q, want %q", c.s, got, c.want)
		}
	}
}
