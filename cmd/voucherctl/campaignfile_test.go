package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestYAMLToJSONIsFaithful(t *testing.T) {
	body, err := yamlToJSON([]byte(`
starts_at: 2027-04-02T10:00:00+08:00   # timestamps stay as written
valid_until: 2027-04-09                # even a bare date, which the server then refuses
name: "0123"                           # quoted stays a string
budget_fen: 5000000000
rate: 1.5
recycling_proof_required: yes          # a string in YAML 1.2: the server names the field
on: true
grade_rate_bp: {1: 2000, "2": 1500}    # keys are strings in JSON anyway
defaults: &d {per_round_limit: 1}
tier: *d
nothing: ~
tiers_id_typo: kept                    # unknown fields reach the server, which names them
`))
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"starts_at": "2027-04-02T10:00:00+08:00", "valid_until": "2027-04-09", "name": "0123",
		"budget_fen": 5000000000, "rate": 1.5, "recycling_proof_required": "yes", "on": true,
		"grade_rate_bp": {"1": 2000, "2": 1500}, "defaults": {"per_round_limit": 1}, "tier": {"per_round_limit": 1},
		"nothing": null, "tiers_id_typo": "kept"
	}`, string(body))
}

func TestYAMLToJSONRefusesWhatJSONCannotSay(t *testing.T) {
	for name, doc := range map[string]string{
		"empty":         "",
		"duplicate key": "name: a\nname: b\n",
		"complex key":   "? [a, b]\n: 1\n",
		"not YAML":      "name: [a\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := yamlToJSON([]byte(doc))
			assert.Error(t, err)
		})
	}
}
