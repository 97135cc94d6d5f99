package ircish

import "errors"

// Error codes sent in ERR lines.
const (
	CodeUnknownCommand = "UNKNOWN_COMMAND"
	CodeNotRegistered  = "NOT_REGISTERED"
	CodeNeedMoreParams = "NEED_MORE_PARAMS"
	CodeBadParam       = "BAD_PARAM"
	CodeNickInvalid    = "NICK_INVALID"
	CodeNickInUse      = "NICK_IN_USE"
	CodeNoSuchUser     = "NO_SUCH_USER"
	CodeLineTooLong    = "LINE_TOO_LONG"
	CodeBadText        = "BAD_TEXT"
	CodeFlood          = "FLOOD"
	CodeServerFull     = "SERVER_FULL"
	CodeTimeout        = "TIMEOUT"
	CodeRefused        = "REFUSED"
	CodeNickRegistered = "NICK_REGISTERED"
	CodeBadPassword    = "BAD_PASSWORD"
	CodeTooMany        = "TOO_MANY_ATTEMPTS"
	CodeNotOperator    = "NOT_OPERATOR"
	CodeBanned         = "BANNED"
	CodeMuted          = "MUTED"
)

// An Error is a protocol error. It carries the ERR line the server sends.
type Error struct {
	Code string // one of the Code constants
	Text string // for people
}

func (e *Error) Error() string { return e.Code + " " + e.Text }

// Line returns the error's ERR line.
func (e *Error) Line() []byte { return Line(Err, e.Code, e.Text) }

// NewError returns the protocol error of code, with text for people.
func NewError(code, text string) *Error { return &Error{Code: code, Text: text} }

// AsError reports whether err is a protocol error, and returns it.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
