package main

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/tongquan/tongquan/internal/auth"
)

// runToken mints a token with the development keys voucherd wrote into its
// data folder: a person's token with roles, or (--platform) a platform's
// short-lived request token.
func runToken(args []string) error {
	fs := flag.NewFlagSet("voucherctl token", flag.ContinueOnError)
	dataDir := fs.String("data-dir", envOr("TONGQUAN_DATA_DIR", "./.tongquan"), "voucherd's data folder (env TONGQUAN_DATA_DIR)")
	roles := fs.String("role", "", "comma-separated roles: campaign_manager, approver, auditor")
	sub := fs.String("sub", "", "the person's subject (user id)")
	platform := fs.Bool("platform", false, "mint a platform request token for the development platform instead")
	ttl := fs.Duration("ttl", time.Hour, "lifetime (platform tokens: at most 5m)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	keys, err := auth.LoadDevKeys(*dataDir)
	if err != nil {
		return err
	}
	now := time.Now()
	var token string
	if *platform {
		if *ttl > auth.MaxPlatformTokenLifetime {
			*ttl = auth.MaxPlatformTokenLifetime
		}
		token, err = auth.MintPlatformToken(keys.PlatformPrivate, keys.PlatformKeyID, keys.PlatformID, keys.Audience, *ttl, now)
	} else {
		if *sub == "" || *roles == "" {
			return fmt.Errorf("--sub and --role are required (for example --role campaign_manager --sub alice)")
		}
		var rs []auth.Role
		for _, r := range strings.Split(*roles, ",") {
			switch r = strings.TrimSpace(r); auth.Role(r) {
			case auth.RoleCampaignManager, auth.RoleApprover, auth.RoleAuditor:
				rs = append(rs, auth.Role(r))
			default:
				return fmt.Errorf("unknown role %q: use campaign_manager, approver or auditor", r)
			}
		}
		token, err = auth.MintPersonToken(keys.Private, keys.KeyID, keys.Issuer, keys.Audience, *sub, rs, *ttl, now)
	}
	if err != nil {
		return err
	}
	fmt.Println(token)
	return nil
}
