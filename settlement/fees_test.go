package settlement

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestFeeRoundsHalfUp(t *testing.T) {
	cases := []struct {
		amount int64
		bps    int
		want   int64
	}{
		{1000, 38, 4},     // 3.8
		{131, 38, 0},      // 0.4978
		{1316, 38, 5},     // 5.0008
		{1250, 40, 5},     // 5.0 exactly
		{125, 40, 1},      // 0.5: half rounds up
		{124, 40, 0},      // 0.496
		{1, 10000, 1},     // the whole amount
		{1, 0, 0},         // no fee
		{100000, 38, 380}, // ¥1000 at 0.38%
		{MaxAmount, 10000, MaxAmount},
	}
	for _, c := range cases {
		if got := Fee(c.amount, c.bps); got != c.want {
			t.Errorf("Fee(%d, %d) = %d, want %d", c.amount, c.bps, got, c.want)
		}
	}
}

// roundHalfUp is R(n/d) for non-negative n and positive d in big integers: the definition the
// int64 arithmetic must agree with.
func roundHalfUp(n, d *big.Int) int64 {
	q := new(big.Int).Mul(n, big.NewInt(2))
	q.Add(q, d)
	q.Quo(q, new(big.Int).Mul(d, big.NewInt(2)))
	return q.Int64()
}

// TestReturnedFeesNeverExceedTheFee refunds random payments in random pieces (partial, repeated,
// many tiny ones, the rest at once) and checks that each refund returns a non-negative share,
// that the shares add up to R(fee × refunded / amount) computed in big integers, never above
// the fee, and to the whole fee for a full refund.
func TestReturnedFeesNeverExceedTheFee(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		var amount int64
		switch rng.IntN(4) {
		case 0:
			amount = 1 + rng.Int64N(10)
		case 1:
			amount = MaxAmount - rng.Int64N(1000)
		default:
			amount = 1 + rng.Int64N(1_000_000)
		}
		bps := rng.IntN(10001)
		fee := Fee(amount, bps)
		var refunded, returned int64
		for refunded < amount && rng.IntN(6) != 0 {
			part := 1 + rng.Int64N(amount-refunded)
			if rng.IntN(3) == 0 {
				part = 1 + rng.Int64N(min(3, amount-refunded))
			}
			r := ReturnedFee(fee, amount, refunded, part)
			if r < 0 {
				t.Fatalf("amount %d fee %d: a refund of %d after %d returns %d", amount, fee, part, refunded, r)
			}
			refunded += part
			returned += r
		}
		want := roundHalfUp(new(big.Int).Mul(big.NewInt(fee), big.NewInt(refunded)), big.NewInt(amount))
		if returned != want || returned > fee {
			t.Fatalf("amount %d fee %d refunded %d: returned %d, want %d (at most the fee)", amount, fee, refunded, returned, want)
		}
		if refunded == amount && returned != fee {
			t.Fatalf("amount %d fee %d: a full refund returned %d", amount, fee, returned)
		}
	}
}

func TestReturnedFeeExamples(t *testing.T) {
	// A fee of 1 fen on ¥0.02 refunded in two halves: each alone would round 0.5 up to 1 and
	// return 2 fen in all; taken in order they return 1 and 0.
	if a, b := ReturnedFee(1, 2, 0, 1), ReturnedFee(1, 2, 1, 1); a+b != 1 {
		t.Fatalf("returned %d + %d", a, b)
	}
	// The contract check's case: ¥10.00 at 38 bps (4 fen) refunded ¥4.00 returns 2 fen.
	if r := ReturnedFee(Fee(1000, 38), 1000, 0, 400); r != 2 {
		t.Fatalf("returned %d, want 2", r)
	}
	if Net(1000, 400, 4, 2) != 598 {
		t.Fatal("Net")
	}
}
