package limiter

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stateVersion is the format of the state file: one JSON header line, then
// one JSON line per user, so that a large table streams in and out without
// being held twice in memory. Version 2 added the sessions' media
// (bufferedUntil, segmentHintMs), their client networks and the users' tombstones; version 1 files
// are still read.
const stateVersion = 2

type stateHeader struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	SavedAt time.Time `json:"savedAt"`
}

type stateUser struct {
	UserID   string         `json:"userId"`
	Sessions []stateSession `json:"sessions"`
	Ended    []stateTomb    `json:"ended,omitempty"`
}

type stateSession struct {
	SessionID string    `json:"sessionId"`
	StartedAt time.Time `json:"startedAt"`
	LastSeen  time.Time `json:"lastSeen"`
	Device    *Device   `json:"device,omitempty"`
	// BufferedUntil is keyed by track name: main, video, audio.
	BufferedUntil map[string]time.Time `json:"bufferedUntil,omitempty"`
	SegmentHintMs int64                `json:"segmentHintMs,omitempty"`
	// Networks are the last client networks (hex) and when they used it.
	Networks      []stateNetwork `json:"networks,omitempty"`
	NetworksCount int            `json:"networksCount,omitempty"`
	Shared        bool           `json:"shared,omitempty"`
	BoundTo       string         `json:"boundTo,omitempty"`
}

type stateNetwork struct {
	Network string    `json:"network"`
	Seen    time.Time `json:"seen"`
}

// stateTomb is a tombstone: a session ended by the operator or replaced.
type stateTomb struct {
	SessionID string    `json:"sessionId"`
	Until     time.Time `json:"until"`
	Reason    string    `json:"reason"`
}

var trackNames = [numTracks]string{"main", "video", "audio"}

const stateFormat = "streamgate-state"

// ErrStateFile is wrapped by NewMemory's error when MemoryOptions.StateFile
// could not be written: found at start, a directory that is missing or
// read-only stops the process there, not at shutdown, when the sessions it
// was meant to keep would be lost.
var ErrStateFile = errors.New("state file cannot be written")

// stateFile is where a Memory keeps its table across restarts.
type stateFile struct {
	path   string
	logger *slog.Logger
}

// openStateFile checks that path can be written and restores the table
// from it. A missing file is a first start; one that does not fully parse
// restores what it can, with a warning: neither stops the process.
func (m *Memory) openStateFile(path string, logger *slog.Logger) error {
	if path == "" {
		return nil
	}
	if err := checkStateFile(path); err != nil {
		return fmt.Errorf("%w: %v", ErrStateFile, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m.state = &stateFile{path: path, logger: logger}
	n, err := m.LoadStateFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		logger.Info("no state file yet; starting empty", "path", path)
	case err != nil:
		logger.Warn("state file not fully restored", "path", path, "users", n, "err", err)
	default:
		logger.Info("state file restored", "path", path, "users", n)
	}
	return nil
}

// closeStateFile writes the table to the state file, if there is one.
func (m *Memory) closeStateFile() error {
	if m.state == nil {
		return nil
	}
	n, err := m.SaveStateFile(m.state.path)
	if err != nil {
		m.state.logger.Error("state file not written", "path", m.state.path, "err", err)
		return err
	}
	m.state.logger.Info("state file written", "path", m.state.path, "users", n)
	return nil
}

// SaveStateFile writes the active sessions to path atomically: a temporary file
// in the same directory, synced, then renamed over path. It returns the number
// of users written.
func (m *Memory) SaveStateFile(path string) (int, error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("creating state file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	n, err := m.WriteState(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return 0, fmt.Errorf("writing state file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // makes the rename durable where the filesystem allows
		_ = d.Close()
	}
	return n, nil
}

// checkStateFile reports whether SaveStateFile could write path: it creates
// and removes a temporary file beside it. Checked at start, a directory that
// is missing or read-only stops the process there, not at shutdown, when the
// sessions it was meant to keep would be lost.
func checkStateFile(path string) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".check-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the temporary name would only confuse
		}
		return fmt.Errorf("directory %s: %w", dir, err)
	}
	name := tmp.Name()
	err = tmp.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	return err
}

// LoadStateFile reads a file written by SaveStateFile; see ReadState.
func (m *Memory) LoadStateFile(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("reading state file: %w", err)
	}
	defer f.Close()
	n, err := m.ReadState(f)
	if err != nil {
		return n, fmt.Errorf("reading state file %s: %w", path, err)
	}
	return n, nil
}

// WriteState writes every user with active sessions to w and returns how many
// users it wrote. Each shard is copied under its lock and written outside it.
func (m *Memory) WriteState(w io.Writer) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(stateHeader{Format: stateFormat, Version: stateVersion, SavedAt: m.clock().UTC()}); err != nil {
		return 0, err
	}
	written := 0
	for i := range m.table.Len() {
		for _, su := range m.snapshotShard(m.table.At(i)) {
			if err := enc.Encode(su); err != nil {
				return written, err
			}
			written++
		}
	}
	return written, bw.Flush()
}

func (m *Memory) snapshotShard(sh *shard) []stateUser {
	now := m.clock().UnixNano()
	sh.Lock()
	defer sh.Unlock()
	var out []stateUser
	for _, r := range sh.LRU.Keys() { // oldest first
		u := r.user()
		// Copies: the blobs are freed when their users change, after the
		// lock is let go and before the file is written.
		su := stateUser{UserID: strings.Clone(u.id())}
		for i, s := range u.sessions() {
			if now >= s.expires {
				continue
			}
			meta := strings.Clone(u.meta(i))
			ss := stateSession{
				SessionID:     metaID(meta),
				StartedAt:     time.Unix(0, s.started).UTC(),
				LastSeen:      time.Unix(0, s.lastSeen).UTC(),
				Device:        deviceOrNil(metaDevice(meta)),
				SegmentHintMs: time.Duration(s.hint).Milliseconds(),
			}
			for _, ns := range s.nets {
				if ns.net != 0 {
					ss.Networks = append(ss.Networks, stateNetwork{Network: ns.net.String(), Seen: time.Unix(0, ns.seen).UTC()})
				}
			}
			ss.NetworksCount, ss.Shared = int(s.networks), s.shared
			if s.bound != 0 {
				ss.BoundTo = s.bound.String()
			}
			// Media already played out still counts while it keeps the
			// session active (expiry: b + TTL), so it is kept once past.
			for t, b := range s.buffered {
				if b > s.lastSeen {
					if ss.BufferedUntil == nil {
						ss.BufferedUntil = make(map[string]time.Time, numTracks)
					}
					ss.BufferedUntil[trackNames[t]] = time.Unix(0, b).UTC()
				}
			}
			su.Sessions = append(su.Sessions, ss)
		}
		for _, t := range u.ended() {
			if t.reason != lapsed && now < t.until {
				su.Ended = append(su.Ended, stateTomb{SessionID: metaID(t.meta), Until: time.Unix(0, t.until).UTC(), Reason: t.reason.String()})
			}
		}
		if len(su.Sessions) > 0 || len(su.Ended) > 0 {
			out = append(out, su)
		}
	}
	return out
}

// ReadState restores users written by WriteState, dropping sessions that
// expired in the meantime, and returns how many users it restored. Sessions
// already in the table win over the file's. Lines that do not parse are
// skipped and reported in the error after the rest has been restored; a file
// that is not a state file restores nothing.
func (m *Memory) ReadState(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return 0, err
		}
		return 0, errors.New("empty file")
	}
	var h stateHeader
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Format != stateFormat {
		return 0, errors.New("not a streamgate state file")
	}
	if h.Version != 1 && h.Version != stateVersion {
		return 0, fmt.Errorf("unsupported state file version %d", h.Version)
	}
	var users []stateUser
	bad := 0
	for sc.Scan() {
		var su stateUser
		if err := json.Unmarshal(sc.Bytes(), &su); err != nil || su.UserID == "" {
			bad++
			continue
		}
		users = append(users, su)
	}
	// Oldest first, so that the LRU order (and the sweep's invariant) holds.
	slices.SortStableFunc(users, func(a, b stateUser) int { return newestOf(a).Compare(newestOf(b)) })
	restored := 0
	for _, su := range users {
		if m.restoreUser(su) {
			restored++
		}
	}
	switch {
	case sc.Err() != nil:
		return restored, fmt.Errorf("after %d users: %w", restored, sc.Err())
	case bad > 0:
		return restored, fmt.Errorf("skipped %d unreadable lines", bad)
	}
	return restored, nil
}

func deviceOrNil(d Device) *Device {
	if d == (Device{}) {
		return nil
	}
	return &d
}

func newestOf(su stateUser) time.Time {
	var t time.Time
	for _, s := range su.Sessions {
		if s.LastSeen.After(t) {
			t = s.LastSeen
		}
	}
	return t
}

func (m *Memory) restoreUser(su stateUser) bool {
	uk := m.keys.user(su.UserID)
	now := m.clock().UnixNano()
	sh := m.shardFor(uk[0])
	sh.Lock()
	defer sh.Unlock()
	if sh.Extra.index.get(uk) != nil {
		return false
	}
	u := &user{k1: uk[1]}
	u.setBlob(newBlob(m.heap, su.UserID))
	for _, s := range su.Sessions {
		last := s.LastSeen.UnixNano()
		sk := m.keys.session(s.SessionID)
		if s.SessionID == "" || u.find(sk) >= 0 {
			continue
		}
		var dev Device
		if s.Device != nil {
			dev = *s.Device
		}
		e := entry{key: sk, started: s.StartedAt.UnixNano(), lastSeen: last, hint: int64(time.Duration(s.SegmentHintMs) * time.Millisecond)}
		for t, name := range trackNames {
			if b, ok := s.BufferedUntil[name]; ok {
				e.buffered[t] = b.UnixNano()
			}
		}
		for i, ns := range s.Networks {
			if n, err := strconv.ParseUint(ns.Network, 16, 64); err == nil && i < len(e.nets) {
				e.nets[i] = netSeen{net: Network(n), seen: ns.Seen.UnixNano()}
			}
		}
		e.networks, e.shared = uint8(min(max(s.NetworksCount, 0), 255)), s.Shared
		if n, err := strconv.ParseUint(s.BoundTo, 16, 64); err == nil {
			e.bound = Network(n)
		}
		e.expires = expiry(last, e.bufferedUntil(), m.ttl, m.maxLease)
		if now >= e.expires {
			continue
		}
		u.add(m.heap, e, packMeta(s.SessionID, dev))
	}
	for _, t := range su.Ended {
		until := t.Until.UnixNano()
		reason := EndedByOperator
		if t.Reason == Replaced.String() {
			reason = Replaced
		}
		if t.SessionID != "" && now < until && m.tombTTL > 0 {
			u.bury(m.heap, tomb{key: m.keys.session(t.SessionID), until: until, reason: reason, meta: strings.Clone(t.SessionID)})
		}
	}
	if len(u.sessions()) == 0 && u.tombs == nil {
		u.free(m.heap)
		return false
	}
	m.sessions.Add(int64(len(u.sessions())))
	m.insert(sh, uk, u, now)
	return true
}
