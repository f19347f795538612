// Package lottery is the lottery issuance mode: holders register during a
// window, a seed committed in advance decides the winners, and anyone can
// reproduce the draw from what the service publishes. It does no I/O.
//
// # Commitment
//
// Before registration closes the service draws a random 32-byte seed and
// publishes seed_hash, the SHA-256 of the seed's bytes in lower-case hex. At
// the draw it publishes the seed itself (64 lower-case hex digits): whoever
// noted seed_hash earlier can check that the seed was not chosen after the
// tickets were known.
//
// # Tickets
//
// Every registration gets a ticket, 64 lower-case hex digits:
//
//	ticket = hex(SHA-256("tongquan/lottery/ticket/v1" || 0x00 || campaign id || registration id))
//
// where the ids are the 16 bytes of each UUID in network order. The ticket is
// derived from ids the service chose, never from the holder, so the
// published list reveals nobody; a platform learns its holders' tickets from
// the registration answer.
//
// # Draw, algorithm "tongquan-lottery-v1"
//
// Given the seed, the n tickets and the number of winners k:
//
//  1. Sort the tickets ascending (as strings; equivalently by the bytes they encode).
//  2. tickets_digest = hex(SHA-256(t1 "\n" t2 "\n" … "\n" tn)): the sorted
//     tickets as ASCII joined by single line feeds, no trailing one (no
//     tickets: the SHA-256 of nothing).
//  3. score(t) = SHA-256(seed || the 32 bytes t's hex encodes).
//  4. Rank the tickets by score ascending, comparing scores bytewise (as
//     unsigned big-endian numbers); equal scores, by ticket ascending.
//  5. The winners are the first min(k, n) tickets of the ranking.
//
// The same in Python, for an auditor:
//
//	import hashlib
//	def draw(seed_hex, tickets, k):
//	    seed, ts = bytes.fromhex(seed_hex), sorted(tickets)
//	    digest = hashlib.sha256("\n".join(ts).encode()).hexdigest()
//	    ranked = sorted(ts, key=lambda t: (hashlib.sha256(seed + bytes.fromhex(t)).digest(), t))
//	    return digest, ranked[:k]
//
// When the budget cannot pay every winner, the service draws fewer: k is
// lowered to what the budget covers before the draw, so the winners are still
// the best of the ranking and the published winners count is the k to
// reproduce. A fixed test vector pins the algorithm: changing it means a new
// algorithm name, never a silent edit.
package lottery

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/holder"
)

// Algorithm names the draw this package implements.
const Algorithm = "tongquan-lottery-v1"

// SeedSize is the length of a seed in bytes.
const SeedSize = 32

// Error codes of the lottery.
const (
	// CodeRegistrationClosed: the campaign takes no registration now (no
	// lottery, not active, outside the window, or already drawn).
	CodeRegistrationClosed apperr.Code = "REGISTRATION_CLOSED"
	// CodeAlreadyRegistered: the holder is registered, through any platform.
	CodeAlreadyRegistered apperr.Code = "ALREADY_REGISTERED"
)

func init() {
	apperr.Register(CodeRegistrationClosed, http.StatusConflict)
	apperr.Register(CodeAlreadyRegistered, http.StatusConflict)
}

// Status is where a lottery stands.
type Status string

const (
	NotOpen     Status = "not_open"
	Registering Status = "registering"
	Closed      Status = "closed" // registration closed, not drawn yet
	Drawn       Status = "drawn"
)

// Phase is the lottery's status at now: by the clock in its rules until it
// is drawn.
func Phase(r campaign.LotteryRules, drawn bool, now time.Time) Status {
	switch {
	case drawn:
		return Drawn
	case now.Before(r.RegistrationOpensAt):
		return NotOpen
	case now.Before(r.RegistrationClosesAt):
		return Registering
	}
	return Closed
}

// Lottery is a campaign's committed seed and, once drawn, the outcome.
type Lottery struct {
	CampaignID  uuid.UUID
	Algorithm   string
	Seed        []byte // secret until drawn
	CommittedAt time.Time
	Outcome     *Outcome // nil until drawn
}

// Outcome records a draw. Winners is below min(WinnersWanted,
// Registrations) only when BudgetLimited.
type Outcome struct {
	DrawnAt       time.Time
	Registrations int64
	WinnersWanted int64 // the rules' winners
	Winners       int64 // drawn
	TicketsDigest string
	BudgetLimited bool
}

// SeedHash is the commitment published before the draw.
func (l Lottery) SeedHash() string { return SeedHash(l.Seed) }

// SeedHash is hex(SHA-256(seed)).
func SeedHash(seed []byte) string {
	sum := sha256.Sum256(seed)
	return hex.EncodeToString(sum[:])
}

// RegistrationStatus is a registration's outcome.
type RegistrationStatus string

const (
	Registered RegistrationStatus = "registered"
	Won        RegistrationStatus = "won"
	Lost       RegistrationStatus = "lost"
)

// Registration is one holder's entry in a campaign's lottery.
type Registration struct {
	ID           uuid.UUID
	CampaignID   uuid.UUID
	Holder       holder.Hash
	PlatformID   string // the platform the holder registered through
	Ticket       string
	Status       RegistrationStatus
	VoucherID    *uuid.UUID // a winner's voucher
	RegisteredAt time.Time
}

// NewRegistration registers holder h at now with a fresh id and its ticket.
func NewRegistration(campaignID uuid.UUID, h holder.Hash, platformID string, now time.Time) Registration {
	id := uuid.Must(uuid.NewV7())
	return Registration{
		ID: id, CampaignID: campaignID, Holder: h, PlatformID: platformID,
		Ticket: Ticket(campaignID, id), Status: Registered, RegisteredAt: now,
	}
}

const ticketTag = "tongquan/lottery/ticket/v1"

// Ticket is the ticket of registration id in a campaign (see the package doc).
func Ticket(campaignID, registrationID uuid.UUID) string {
	h := sha256.New()
	h.Write([]byte(ticketTag))
	h.Write([]byte{0})
	h.Write(campaignID[:])
	h.Write(registrationID[:])
	return hex.EncodeToString(h.Sum(nil))
}
