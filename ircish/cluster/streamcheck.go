package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// duplicateWindow is the least duplicate window the stream may have. A
// publish that fails is tried again under the same message id for
// giveUpAfter at most (see publisher.publish), well within the window, in
// which the stream stores one copy of an id. It is also NATS's default.
const duplicateWindow = 2 * time.Minute

// minMsgSize is the least max_msg_size the stream may have, in bytes. It
// holds the longest record a user cannot shorten, a rename to the longest
// nick ("RENAME", a node of 12, a num and a made of up to 20 digits each,
// MaxNickLen characters of up to 4 bytes, and 6 separators: 192 bytes),
// and msgHeaderRoom (128) for the message's headers, which NATS counts in
// max_msg_size (see processJetStreamMsg in nats-server's stream.go), with
// room to spare. A leave's reason is cut to fit, a line too long is
// refused with LINE_TOO_LONG, and a snapshot is cut into parts.
const minMsgSize = 512

// A change is a setting of the stream that fixConfig changes, in the
// name NATS gives it, and its values before and after.
type change struct {
	setting, was, now string
}

// A streamRefusal is the error of a stream this server will not use as
// it is: it cannot change a setting safely, or NATS refused the change.
// Trying again does not help until an operator acts.
type streamRefusal struct{ error }

// fixConfig returns cfg as the room needs it, and what it changed; or an
// error naming the first setting that cannot be changed safely.
//
// The stream must take every subject the cluster publishes on, and keep
// each record until compaction deletes it: a limit could drop the join of
// a member still present. Its duplicate window must outlast the
// publisher's tries (see duplicateWindow), and the publisher needs acks.
func fixConfig(cfg jetstream.StreamConfig) (jetstream.StreamConfig, []change, error) {
	refuse := func(setting, was, needs, why string) error {
		return streamRefusal{fmt.Errorf("the stream %s has %s %s: it needs %s (%s)", cfg.Name, setting, was, needs, why)}
	}
	const remake = "delete the stream, or use another NATS"
	switch {
	case cfg.Mirror != nil:
		// NATS would promote it to a stream of its own, but that cuts it
		// off from the stream it mirrors, which may be the room's.
		return cfg, nil, refuse("mirror", strconv.Quote(cfg.Mirror.Name), "none", "a mirror takes no records; "+remake)
	case cfg.Sealed:
		return cfg, nil, refuse("sealed", "true", "false", "NATS cannot unseal a stream; "+remake)
	case cfg.Retention == jetstream.WorkQueuePolicy:
		return cfg, nil, refuse("retention", `"workqueue"`, `"limits"`, "NATS cannot change a work queue's retention; "+remake)
	case cfg.DenyPurge:
		return cfg, nil, refuse("deny_purge", "true", "false", "compaction purges, and NATS cannot allow purges again; "+remake)
	case cfg.MaxMsgSize > 0 && cfg.MaxMsgSize < minMsgSize:
		return cfg, nil, refuse("max_msg_size", strconv.Itoa(int(cfg.MaxMsgSize)), fmt.Sprintf("at least %d, or -1", minMsgSize), "the longest record must fit in a message")
	}

	fixed := cfg
	var changes []change
	set := func(setting string, was, now any) {
		changes = append(changes, change{setting, fmt.Sprint(was), fmt.Sprint(now)})
	}
	// The stream takes the subjects the cluster publishes records on, and
	// not its heartbeats: a reader would take them for records, and
	// nothing deletes them.
	if !coversAll(cfg.Subjects, streamSubjects) || slices.ContainsFunc(cfg.Subjects, func(s string) bool { return subjectsCollide(s, aliveSubject) }) {
		// Those of its subjects in the cluster's space make way for the
		// cluster's; NATS refuses subjects of one stream that overlap.
		fixed.Subjects = slices.Clone(streamSubjects)
		for _, s := range cfg.Subjects {
			if subjectCovers(anySubject, s) {
				continue
			}
			if subjectsCollide(anySubject, s) {
				return cfg, nil, refuse("subjects", strconv.Quote(strings.Join(cfg.Subjects, " ")), strconv.Quote(strings.Join(streamSubjects, " ")),
					fmt.Sprintf("%q overlaps %s: take it off the stream, or use another NATS", s, anySubject))
			}
			fixed.Subjects = append(fixed.Subjects, s)
		}
		set("subjects", strings.Join(cfg.Subjects, " "), strings.Join(fixed.Subjects, " "))
	}
	if cfg.Retention != jetstream.LimitsPolicy {
		fixed.Retention = jetstream.LimitsPolicy
		set("retention", strings.ToLower(cfg.Retention.String()), "limits")
	}
	if cfg.MaxAge > 0 {
		fixed.MaxAge = 0
		set("max_age", cfg.MaxAge, fixed.MaxAge)
	}
	if cfg.MaxMsgs > 0 {
		fixed.MaxMsgs = -1
		set("max_msgs", cfg.MaxMsgs, fixed.MaxMsgs)
	}
	if cfg.MaxBytes > 0 {
		fixed.MaxBytes = -1
		set("max_bytes", cfg.MaxBytes, fixed.MaxBytes)
	}
	if cfg.MaxMsgsPerSubject > 0 {
		fixed.MaxMsgsPerSubject = -1
		set("max_msgs_per_subject", cfg.MaxMsgsPerSubject, fixed.MaxMsgsPerSubject)
	}
	if cfg.DiscardNewPerSubject && fixed.MaxMsgsPerSubject <= 0 {
		// NATS refuses it without a max_msgs_per_subject.
		fixed.DiscardNewPerSubject = false
		set("discard_new_per_subject", true, false)
	}
	if cfg.Duplicates < duplicateWindow {
		fixed.Duplicates = duplicateWindow
		set("duplicate_window", cfg.Duplicates, fixed.Duplicates)
	}
	if cfg.NoAck {
		fixed.NoAck = false
		set("no_ack", true, false)
	}
	return fixed, changes, nil
}

// fixStream checks the stream's settings (see fixConfig), changes those
// it safely can, and returns an error naming the first it cannot: a
// streamRefusal, unless trying again may help. It asks NATS once when
// nothing needs changing. ctx bounds its wait, as NATS does not answer a
// change it denies this server.
func (e *Engine) fixStream(ctx context.Context) error {
	info, err := e.stream.Info(ctx, jetstream.WithSubjectFilter(snapSubject))
	if err != nil {
		return fmt.Errorf("cannot read the settings of the stream %s: %w", streamName, err)
	}
	state := info.State
	cfg, changes, err := fixConfig(info.Config)
	if err != nil {
		return err
	}
	if len(changes) > 0 {
		updated, err := e.js.UpdateStream(ctx, cfg)
		if err != nil {
			var needs []string
			for _, c := range changes {
				needs = append(needs, fmt.Sprintf("%s %s (not %s)", c.setting, c.now, c.was))
			}
			err = fmt.Errorf("the stream %s needs %s, and NATS did not make the change: %w", streamName, strings.Join(needs, ", "), err)
			// NATS answers 503 to what it may do later, as while it elects
			// the stream's leader.
			if apiErr := (*jetstream.APIError)(nil); errors.As(err, &apiErr) && apiErr.Code != 503 {
				return streamRefusal{err}
			}
			return err
		}
		for _, c := range changes {
			e.log.Warn("stream setting changed", slog.String("setting", c.setting), slog.String("was", c.was), slog.String("now", c.now))
		}
		cfg = updated.CachedInfo().Config
	}
	e.maxMsgSize.Store(max(0, int64(cfg.MaxMsgSize)))
	// Records deleted from the start of a stream that holds no snapshot
	// are lost: to a limit set before, or to the compaction of an earlier
	// version, which kept no snapshot. The room read from it may lack
	// members, but refusing it would not bring them back.
	if state.FirstSeq > max(cfg.FirstSeq, 1) && state.Subjects[snapSubject] == 0 {
		e.log.Warn("stream records deleted without a snapshot; the room read may lack members",
			slog.Uint64("first_seq", state.FirstSeq))
	}
	return nil
}

// coversAll reports whether the subjects of a stream take every subject
// that one of needs matches.
func coversAll(subjects, needs []string) bool {
	for _, need := range needs {
		if !slices.ContainsFunc(subjects, func(s string) bool { return subjectCovers(s, need) }) {
			return false
		}
	}
	return true
}

// subjectCovers reports whether the NATS subject filter have matches every
// subject that need matches. In a filter, tokens are separated by '.', a
// '*' matches any one token, and a last '>' one or more.
func subjectCovers(have, need string) bool {
	h, n := strings.Split(have, "."), strings.Split(need, ".")
	for i, t := range h {
		switch {
		case t == ">":
			return len(n) > i
		case i == len(n) || n[i] == ">" || t != "*" && t != n[i]:
			return false
		}
	}
	return len(h) == len(n)
}

// subjectsCollide reports whether some subject matches both the NATS
// subject filters a and b (see subjectCovers).
func subjectsCollide(a, b string) bool {
	x, y := strings.Split(a, "."), strings.Split(b, ".")
	for i := range min(len(x), len(y)) {
		switch {
		case x[i] == ">" || y[i] == ">":
			return true
		case x[i] != "*" && y[i] != "*" && x[i] != y[i]:
			return false
		}
	}
	return len(x) == len(y)
}
