package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/tongquan/tongquan/internal/auth"
)

const platformGroup = "voucherctl platform"

var platformCommands = group{name: platformGroup, commands: map[string]command{
	"register":   {"register a platform with its first public key", runPlatformRegister},
	"list":       {"list registered platforms", runPlatformList},
	"show":       {"show a platform and its keys", runPlatformShow},
	"suspend":    {"suspend a platform: refused everywhere until resumed", setPlatformStatus("suspend", "suspended")},
	"resume":     {"reactivate a suspended platform", setPlatformStatus("resume", "active")},
	"add-key":    {"add a public key (rotation: the old key stays valid until revoked)", runPlatformAddKey},
	"revoke-key": {"revoke a key; tokens signed with it are refused from then on", runPlatformRevokeKey},
}}

// platform is the contract's Platform.
type platform struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Status    string        `json:"status"`
	Keys      []platformKey `json:"keys"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
}

type platformKey struct {
	KeyID     string    `json:"key_id"`
	Algorithm string    `json:"algorithm"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at"`
}

// keyInput is the contract's PlatformKeyInput, read from flags.
type keyInput struct {
	KeyID        string `json:"key_id"`
	PublicKeyPEM string `json:"public_key_pem"`
}

// keyFlags registers --key-id and --public-key; the returned function reads
// the PEM file once the flags are parsed.
func keyFlags(fs *flag.FlagSet) func() (keyInput, error) {
	kid := fs.String("key-id", "", "the key's id, the kid the platform puts in its tokens (e.g. 2026-11)")
	file := fs.String("public-key", "", "PEM file with the PKIX public key (Ed25519, ECDSA P-256 or RSA ≥ 2048 bits)")
	return func() (keyInput, error) {
		if *kid == "" || *file == "" {
			return keyInput{}, usageError("--key-id and --public-key FILE.pem are required")
		}
		pem, err := os.ReadFile(*file)
		if err != nil {
			return keyInput{}, err
		}
		return keyInput{KeyID: *kid, PublicKeyPEM: string(pem)}, nil
	}
}

func runPlatformRegister(out io.Writer, args []string) error {
	fs, conn := newFlags(platformGroup+" register", "--id ID --name NAME --key-id KID --public-key FILE.pem", auth.RoleCampaignManager)
	id := fs.String("id", "", "the platform id: lower case, e.g. jd")
	name := fs.String("name", "", "the platform's name, e.g. JD.com")
	key := keyFlags(fs)
	if _, err := parse(fs, out, args); err != nil {
		return err
	}
	if *id == "" || *name == "" {
		return usageError("--id and --name are required")
	}
	k, err := key()
	if err != nil {
		return err
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	in := map[string]any{"id": *id, "name": *name, "keys": []keyInput{k}}
	raw, err := c.sendJSON(http.MethodPost, "/v1/platforms", nil, in)
	if err != nil {
		return err
	}
	_, err = render(c, out, raw, showPlatform)
	return err
}

func runPlatformList(out io.Writer, args []string) error {
	fs, conn := newFlags(platformGroup+" list", "", auth.RoleAuditor)
	if _, err := parse(fs, out, args); err != nil {
		return err
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	raw, err := c.sendJSON(http.MethodGet, "/v1/platforms", nil, nil)
	if err != nil {
		return err
	}
	type list struct {
		Items []platform `json:"items"`
	}
	_, err = render(c, out, raw, func(w io.Writer, l *list) {
		fmt.Fprintln(w, "ID\tSTATUS\tACTIVE KEYS\tCREATED\tNAME")
		for _, p := range l.Items {
			active := 0
			for _, k := range p.Keys {
				if k.RevokedAt.IsZero() {
					active++
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%d of %d\t%s\t%s\n", p.ID, p.Status, active, len(p.Keys), when(p.CreatedAt), p.Name)
		}
	})
	return err
}

func runPlatformShow(out io.Writer, args []string) error {
	return showOne(out, args, platformGroup+" show", "ID", auth.RoleAuditor, func(id string) string { return apiPath("v1", "platforms", id) },
		showPlatform)
}

// setPlatformStatus is suspend or resume: a PATCH of the platform's status.
func setPlatformStatus(verb, status string) func(io.Writer, []string) error {
	return func(out io.Writer, args []string) error {
		fs, conn := newFlags(platformGroup+" "+verb, "ID", auth.RoleCampaignManager)
		pos, err := parse(fs, out, args, "ID")
		if err != nil {
			return err
		}
		c, err := conn.client()
		if err != nil {
			return err
		}
		raw, err := c.sendJSON(http.MethodPatch, apiPath("v1", "platforms", pos[0]), nil, map[string]string{"status": status})
		if err != nil {
			return err
		}
		_, err = render(c, out, raw, func(w io.Writer, p *platform) {
			fmt.Fprintf(w, "Platform %s (%s) is now %s.\n", p.ID, p.Name, p.Status)
		})
		return err
	}
}

func runPlatformAddKey(out io.Writer, args []string) error {
	fs, conn := newFlags(platformGroup+" add-key", "ID --key-id KID --public-key FILE.pem", auth.RoleCampaignManager)
	key := keyFlags(fs)
	pos, err := parse(fs, out, args, "ID")
	if err != nil {
		return err
	}
	k, err := key()
	if err != nil {
		return err
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	raw, err := c.sendJSON(http.MethodPost, apiPath("v1", "platforms", pos[0], "keys"), nil, k)
	if err != nil {
		return err
	}
	_, err = render(c, out, raw, showPlatform)
	return err
}

func runPlatformRevokeKey(out io.Writer, args []string) error {
	fs, conn := newFlags(platformGroup+" revoke-key", "ID KID", auth.RoleCampaignManager)
	pos, err := parse(fs, out, args, "ID", "KID")
	if err != nil {
		return err
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	raw, err := c.sendJSON(http.MethodPost, apiPath("v1", "platforms", pos[0], "keys", pos[1], "revoke"), nil, nil)
	if err != nil {
		return err
	}
	_, err = render(c, out, raw, showPlatform)
	return err
}

func showPlatform(w io.Writer, p *platform) {
	fmt.Fprintf(w, "ID:\t%s\n", p.ID)
	fmt.Fprintf(w, "Name:\t%s\n", p.Name)
	fmt.Fprintf(w, "Status:\t%s\n", p.Status)
	fmt.Fprintf(w, "Created:\t%s\n", when(p.CreatedAt))
	fmt.Fprintf(w, "Updated:\t%s\n", when(p.UpdatedAt))
	fmt.Fprintln(w, "\nKEY ID\tALGORITHM\tCREATED\tREVOKED")
	for _, k := range p.Keys {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", k.KeyID, k.Algorithm, when(k.CreatedAt), when(k.RevokedAt))
	}
}
