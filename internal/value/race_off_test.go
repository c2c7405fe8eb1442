//go:build !race

package value

// raceEnabled skips allocation counts: under the race detector sync.Pool
// drops items at random.
const raceEnabled = false
