package mockpay

import "testing"

func TestBehaviour(t *testing.T) {
	for _, tc := range []struct {
		amount int64
		want   int
	}{
		{1001, BehaviourDecline},
		{201, BehaviourDecline},
		{1002, BehaviourPassword},
		{1003, BehaviourNoAnswer},
		{1007, Behaviour5xx},
		{1000, 0},
		{1234, 34},
		// Under a yuan the digits are the amount itself: 1 fen and 7 fen pay.
		{1, 0},
		{7, 0},
		{99, 0},
		{100, 0},
		{101, BehaviourDecline},
	} {
		if got := Behaviour(tc.amount); got != tc.want {
			t.Errorf("Behaviour(%d) = %d, want %d", tc.amount, got, tc.want)
		}
	}
}
