package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/streamgate/streamgate/cmd/internal/cli"
	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy/admin"
	"github.com/streamgate/streamgate/proxy/identity"
)

// statusCommand is `streamgate status [-admin URL] [-token T] [-json] [USER]`:
// a user's sessions, or with no user the replica's totals, from its admin API.
func statusCommand(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("streamgate status", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // a bad flag is one line on stderr, from main
	adminURL := fs.String("admin", envOr(getenv, "STREAMGATE_ADMIN_URL", "http://127.0.0.1:9090"), "admin listener `URL` [STREAMGATE_ADMIN_URL]")
	token := fs.String("token", getenv("STREAMGATE_ADMIN_TOKEN"), "admin bearer `token` [STREAMGATE_ADMIN_TOKEN]")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of a table")
	timeout := fs.Duration("timeout", 5*time.Second, "give up on the admin API after this long")
	fs.Usage = func() {}
	user, err := statusUser(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "Usage: streamgate status [flags] [USER]\n\n"+
			"Prints USER's active sessions, or with no USER this replica's totals.\n"+
			"Exit status 1 when the admin API cannot be reached.\n\nFlags:\n")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	}
	if err != nil {
		return cli.Usage(err)
	}
	if user != "" && !identity.ValidID(user) {
		return cli.Usage(fmt.Errorf("status: user id %q must be 1 to 128 visible ASCII characters", user))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c := &admin.AdminClient{BaseURL: *adminURL, Token: *token, HTTP: &http.Client{}}
	if user != "" {
		v, err := c.Streams(ctx, user)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, v)
		}
		printStreams(stdout, v, time.Now())
		return nil
	}
	o, err := c.Overview(ctx)
	if err != nil {
		return err
	}
	top, err := c.Top(ctx, 5)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, struct {
			Overview admin.Overview `json:"overview"`
			Top      admin.TopUsers `json:"top"`
		}{o, top})
	}
	printTotals(stdout, o, top)
	return nil
}

// statusUser is the one USER argument, which may come before flags, as in
// `status alice -json`.
func statusUser(fs *flag.FlagSet, args []string) (string, error) {
	rest, err := cli.ParseInterleaved(fs, args)
	switch {
	case err != nil:
		return "", err
	case len(rest) > 1:
		return "", fmt.Errorf("status: one user at most, got %q and %q", rest[0], rest[1])
	case len(rest) == 1:
		return rest[0], nil
	}
	return "", nil
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printStreams(w io.Writer, v admin.UserStreams, now time.Time) {
	fmt.Fprintf(w, "%s: %d of %d sessions active", printable(v.UserID), v.Active, v.Limit)
	if v.Refusals != nil {
		fmt.Fprintf(w, ", %d refused in the last %s on this replica", v.Refusals.Count, seconds(v.Refusals.WindowSeconds))
	}
	fmt.Fprintln(w)
	if len(v.Sessions) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSESSION\tSTARTED\tLAST SEEN\tEXPIRES IN\tDEVICE\tADDRESS\tNETWORKS")
	for _, s := range v.Sessions {
		dev := admin.Device{}
		if s.Device != nil {
			dev = *s.Device
		}
		fmt.Fprintf(tw, "%s\t%s ago\t%s ago\t%s\t%s\t%s\t%s\n", printable(s.SessionID), since(now, s.StartedAt), since(now, s.LastSeen),
			since(s.ExpiresAt, now), orDash(printable(dev.Name)), orDash(printable(dev.Address)), networks(s.Networks))
	}
	_ = tw.Flush()
}

func printTotals(w io.Writer, o admin.Overview, top admin.TopUsers) {
	store := printable(o.Store.Kind) + ", answering"
	if !o.Store.Healthy {
		store = printable(o.Store.Kind) + ", NOT ANSWERING: " + printable(o.Store.Error)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "streamgate\t%s (%s), up %s\n", printable(o.Version), printable(o.GoVersion), seconds(int(o.UptimeSeconds)))
	fmt.Fprintf(tw, "ready\t%s\n", yesNo(o.Ready))
	fmt.Fprintf(tw, "store\t%s\n", store)
	fmt.Fprintf(tw, "active sessions\t%d (limit %d per user, TTL %ds)\n", o.ActiveSessions, o.Limit, o.SessionTTLSeconds)
	fmt.Fprintf(tw, "tracked users\t%d\n", o.TrackedUsers)
	fmt.Fprintf(tw, "admitted\t%d requests, %d sessions started\n", o.Totals.Started+o.Totals.Refreshed, o.Totals.Started)
	fmt.Fprintf(tw, "refused\t%d over the limit, %d store unavailable; %d in the last %s\n",
		o.Totals.RefusedLimit, o.Totals.RefusedStore, o.Refusals.Count, seconds(o.Refusals.WindowSeconds))
	fmt.Fprintf(tw, "evicted users\t%d\n", o.EvictedUsers)
	if top.ByActive != nil {
		fmt.Fprintf(tw, "most sessions\t%s\n", ranking(top.ByActive))
	}
	fmt.Fprintf(tw, "most refused\t%s\n", ranking(top.ByRefusals))
	_ = tw.Flush()
}

func ranking(users []limiter.UserCount) string {
	if len(users) == 0 {
		return "-"
	}
	parts := make([]string, len(users))
	for i, u := range users {
		parts[i] = fmt.Sprintf("%s (%d)", printable(u.UserID), u.Count)
	}
	return strings.Join(parts, ", ")
}

// since is b - a in whole seconds, never negative.
func since(b, a time.Time) string {
	return seconds(int(max(b.Sub(a), 0).Round(time.Second) / time.Second))
}

// seconds formats n seconds as Go does, without trailing zero units: 5m, 1h2m.
func seconds(n int) string {
	s := (time.Duration(n) * time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// networks is a session's client network count; more than one is flagged,
// since the session may be shared.
func networks(n int) string {
	switch {
	case n <= 0:
		return "-"
	case n == 1:
		return "1"
	default:
		return strconv.Itoa(n) + " (shared?)"
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
