#!/usr/bin/env bash
# Prints a small consumption campaign (YAML) that starts now, with a round of
# 1,000 "spend ¥200, get ¥50 off" vouchers opening at once: for trying claims
# on a development voucherd (see README.md).
set -euo pipefail
start=$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)
end=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
cat <<YAML
kind: consumption
name: Demo vouchers
authority: Demo Commerce Bureau
time_zone: Asia/Shanghai
starts_at: "$start"
ends_at: "$end"
budget_fen: 10000000
rules:
  tiers:
    - {id: "200-50", name: "满200减50", min_spend_fen: 20000, discount_fen: 5000, validity_days: 7}
  releases:
    - {id: now, tier_id: "200-50", quantity: 1000, opens_at: "$start", close_after_minutes: 1440}
YAML
