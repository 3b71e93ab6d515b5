package settlement

// Fee arithmetic. The settlement run computes these in SQL, set-based, on both databases; the Go
// functions here are the definition the SQL must agree with, and what tests check it against.
//
// All of it is integer arithmetic in minor units (fen), exact for every amount up to
// MaxAmount at any rate from 0 to 10000 basis points.

// MaxAmount is the largest payment amount (in minor units: ¥20,000,000.00) whose fee arithmetic
// stays within 64-bit integers at every rate. A run that meets a larger payment stops with an
// error rather than round wrongly.
const MaxAmount = 2_000_000_000

// Fee is the acquirer's fee on a payment of amount at bps basis points, rounded half up to the
// fen: (amount × bps + 5000) / 10000 in integer division. ¥10.00 at 38 bps is 3.8 fen, so 4;
// ¥1.31 at 38 bps is 0.4978 fen, so 0.
func Fee(amount int64, bps int) int64 {
	return (amount*int64(bps) + 5000) / 10000
}

// proportion is fee × part / whole rounded half up: (2 × fee × part + whole) / (2 × whole).
func proportion(fee, part, whole int64) int64 {
	if whole <= 0 {
		return 0
	}
	return (2*fee*part + whole) / (2 * whole)
}

// ReturnedFee is the fee a refund gives back. A payment of amount A whose fee was F returns, with
// its refunds taken in the order they are settled, R(F × C / A) − R(F × B / A) for each refund,
// where B is what was refunded (and settled) before it, C = B + the refund's amount, and R rounds
// half up. Over all the refunds of a payment this telescopes to R(F × total refunded / A):
// the returned fees are proportional to what was refunded, never negative, and never more than
// F, whatever the number and sizes of the refunds; a full refund returns exactly F.
func ReturnedFee(paymentFee, paymentAmount, refundedBefore, refund int64) int64 {
	return proportion(paymentFee, refundedBefore+refund, paymentAmount) - proportion(paymentFee, refundedBefore, paymentAmount)
}

// Net is what a merchant is owed for the sums of a batch or a line: gross − refunds − fees +
// returned fees.
func Net(gross, refunds, fees, returnedFees int64) int64 {
	return gross - refunds - fees + returnedFees
}
