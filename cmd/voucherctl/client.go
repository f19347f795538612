package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auth"
)

const (
	// Lifetimes of the development tokens minted per command: a command is
	// one request, so they only need to outlive it.
	personTokenTTL   = 5 * time.Minute
	platformTokenTTL = time.Minute

	// requestTimeout is generous: a merchant import of 100,000 rows is one request.
	requestTimeout = 2 * time.Minute
)

// conn holds the flags every server command shares: where voucherd is, who
// to be, and how to print the answer.
type conn struct {
	role    auth.Role // the role the command needs; auth.RolePlatform for platform calls
	server  string
	token   string
	dataDir string
	as      string
	sub     string
	output  string
}

// newFlags makes a command's flag set with the shared connection flags.
// synopsis is what follows the command name, e.g. "show ID".
func newFlags(name, synopsis string, role auth.Role) (*flag.FlagSet, *conn) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports problems itself, to the right stream
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s\n\nflags:\n", strings.Join(strings.Fields(name+" "+synopsis+" [flags]"), " "))
		fs.PrintDefaults()
	}
	c := &conn{role: role}
	fs.StringVar(&c.server, "server", envOr("TONGQUAN_URL", "http://localhost:8080"), "voucherd's URL (env TONGQUAN_URL)")
	fs.StringVar(&c.dataDir, "data-dir", envOr("TONGQUAN_DATA_DIR", "./.tongquan"), "voucherd's data folder, whose keys mint development tokens (env TONGQUAN_DATA_DIR)")
	fs.StringVar(&c.output, "o", "table", "output format: table, or json for the server's answer as is")
	if role == auth.RolePlatform {
		fs.StringVar(&c.token, "platform-token", envOr("TONGQUAN_PLATFORM_TOKEN", ""),
			"a platform request token (env TONGQUAN_PLATFORM_TOKEN); without one, act as the development platform")
		return fs, c
	}
	fs.StringVar(&c.token, "token", envOr("TONGQUAN_TOKEN", ""),
		"bearer token (env TONGQUAN_TOKEN); without one, mint a development token with --as and --sub")
	fs.StringVar(&c.as, "as", string(role), "comma-separated roles of the development token")
	fs.StringVar(&c.sub, "sub", "voucherctl", "subject (user id) of the development token")
	return fs, c
}

// parse parses flags given before, between or after the positional
// arguments, and requires exactly the named positionals. -h prints the usage
// to out.
func parse(fs *flag.FlagSet, out io.Writer, args []string, names ...string) ([]string, error) {
	var pos []string
	for {
		err := fs.Parse(args)
		if err == flag.ErrHelp {
			if _, werr := io.WriteString(out, usage(fs)); werr != nil {
				return nil, werr
			}
			return nil, err
		}
		if err != nil {
			return nil, usageError(err.Error() + "\n\n" + usage(fs))
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	switch {
	case len(names) == 0 && len(pos) > 0:
		return nil, usageError(fmt.Sprintf("unexpected argument %q\n\n%s", pos[0], usage(fs)))
	case len(pos) != len(names):
		return nil, usageError(fmt.Sprintf("expected the arguments %s, got %d\n\n%s", strings.Join(names, " "), len(pos), usage(fs)))
	}
	return pos, nil
}

// usage is the flag set's usage text.
func usage(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.SetOutput(&b)
	defer fs.SetOutput(io.Discard)
	fs.Usage()
	return b.String()
}

// client is an authenticated connection to voucherd.
type client struct {
	*conn
	base          string
	authorization string
	http          *http.Client
	// idempotencyKey, when set, goes with every request as Idempotency-Key.
	idempotencyKey string
}

// client checks the shared flags and obtains the bearer token.
func (c *conn) client() (*client, error) {
	if c.output != "table" && c.output != "json" {
		return nil, usageError(fmt.Sprintf("-o must be table or json, got %q", c.output))
	}
	u, err := url.Parse(c.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError(fmt.Sprintf("--server must be an http(s) URL such as http://localhost:8080, got %q", c.server))
	}
	bearer, err := c.bearer()
	if err != nil {
		return nil, err
	}
	return &client{
		conn:          c,
		base:          strings.TrimRight(c.server, "/"),
		authorization: "Bearer " + bearer,
		http:          &http.Client{Timeout: requestTimeout},
	}, nil
}

// bearer is the given token, or a development token minted with the keys
// voucherd keeps in its data folder.
func (c *conn) bearer() (string, error) {
	if c.token != "" {
		return c.token, nil
	}
	keys, err := auth.LoadDevKeys(c.dataDir)
	if err != nil {
		if e, ok := apperr.As(err); ok {
			err = errors.New(e.Message) // says what to do; the cause is the missing file it names
		}
		return "", fmt.Errorf("no token given, and no development token either: %w", err)
	}
	if c.role == auth.RolePlatform {
		return auth.MintPlatformToken(keys.PlatformPrivate, keys.PlatformKeyID, keys.PlatformID, keys.Audience, platformTokenTTL, time.Now())
	}
	var roles []auth.Role
	for _, r := range strings.Split(c.as, ",") {
		roles = append(roles, auth.Role(strings.TrimSpace(r)))
	}
	return auth.MintPersonToken(keys.Private, keys.KeyID, keys.Issuer, keys.Audience, c.sub, roles, personTokenTTL, time.Now())
}

// apiPath joins path segments, escaping each, so an argument can never reach
// another resource.
func apiPath(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteString("/" + url.PathEscape(s))
	}
	return b.String()
}

// query builds a query string from name, value pairs, leaving out empty
// values: a flag that was not given.
func query(pairs ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	return q
}

// intParam is n as a query value, empty (not given) for 0.
func intParam(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// sendJSON sends in (nil for no body) as JSON and returns the 2xx answer.
func (c *client) sendJSON(method, path string, query url.Values, in any) ([]byte, error) {
	if in == nil {
		return c.send(method, path, query, "", nil)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return c.send(method, path, query, "application/json", bytes.NewReader(body))
}

// send performs one request and returns the body of a 2xx answer; any other
// answer becomes an *apiError.
func (c *client) send(method, path string, query url.Values, contentType string, body io.Reader) ([]byte, error) {
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", c.authorization)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", c.idempotencyKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w (is voucherd running there? set --server or TONGQUAN_URL)", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newAPIError(resp, data)
	}
	return data, nil
}

// render prints an answer: with -o json the server's JSON as is (indented),
// otherwise through table. The decoded answer is returned either way, for
// commands whose exit status depends on it.
func render[T any](c *client, out io.Writer, raw []byte, table func(w io.Writer, v *T)) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("unexpected answer from voucherd: %w", err)
	}
	if c.output == "json" {
		var b bytes.Buffer
		if err := json.Indent(&b, bytes.TrimSpace(raw), "", "  "); err != nil {
			return nil, err
		}
		b.WriteByte('\n')
		_, err := b.WriteTo(out)
		return v, err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	table(tw, v)
	return v, tw.Flush()
}

// showOne is a read command taking one id argument (named arg in its
// usage): a GET of path(id), shown with table.
func showOne[T any](out io.Writer, args []string, name, arg string, role auth.Role, path func(id string) string, table func(io.Writer, *T)) error {
	fs, conn := newFlags(name, arg, role)
	pos, err := parse(fs, out, args, arg)
	if err != nil {
		return err
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	raw, err := c.sendJSON(http.MethodGet, path(pos[0]), nil, nil)
	if err != nil {
		return err
	}
	_, err = render(c, out, raw, table)
	return err
}
