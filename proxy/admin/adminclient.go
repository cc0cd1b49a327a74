package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ErrAdminUnreachable is returned (wrapped) when the admin API did not answer
// at all: nothing listens there, or the connection failed or timed out.
var ErrAdminUnreachable = errors.New("admin API unreachable")

// AdminClient calls a replica's admin API, as `streamgate status` does.
type AdminClient struct {
	// BaseURL is the admin listener, e.g. http://127.0.0.1:9090.
	BaseURL string
	// Token is sent as a bearer token when not empty.
	Token string
	// HTTP is the client used; http.DefaultClient when nil.
	HTTP *http.Client
}

// AdminError is an answer of the admin API other than success.
type AdminError struct {
	Status int
	// Detail is the problem's detail, or the body's first line.
	Detail string
}

func (e *AdminError) Error() string {
	if e.Status == http.StatusUnauthorized {
		return "the admin API refused the token (401): give -token or set STREAMGATE_ADMIN_TOKEN"
	}
	return fmt.Sprintf("the admin API answered %d: %s", e.Status, e.Detail)
}

// Streams returns a user's active sessions.
func (c *AdminClient) Streams(ctx context.Context, userID string) (UserStreams, error) {
	var v UserStreams
	err := c.get(ctx, "/v1/users/"+url.PathEscape(userID)+"/streams", &v)
	return v, err
}

// Overview returns the replica at a glance.
func (c *AdminClient) Overview(ctx context.Context) (Overview, error) {
	var v Overview
	err := c.get(ctx, "/v1/overview", &v)
	return v, err
}

// Top returns the busiest users of the replica, n per ranking.
func (c *AdminClient) Top(ctx context.Context, n int) (TopUsers, error) {
	var v TopUsers
	err := c.get(ctx, fmt.Sprintf("/v1/top?n=%d", n), &v)
	return v, err
}

func (c *AdminClient) get(ctx context.Context, path string, into any) error {
	base := strings.TrimRight(c.BaseURL, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return fmt.Errorf("admin URL %q: %w", c.BaseURL, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is said once, below
		}
		return fmt.Errorf("%w at %s: %v", ErrAdminUnreachable, base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("%w at %s: reading the answer: %v", ErrAdminUnreachable, base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return &AdminError{Status: resp.StatusCode, Detail: problemDetail(body)}
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("the admin API at %s answered something that is not its JSON (is it a streamgate admin listener?): %w", base, err)
	}
	return nil
}

func problemDetail(body []byte) string {
	var p struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &p) == nil && p.Detail != "" {
		return p.Detail
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	return line
}
