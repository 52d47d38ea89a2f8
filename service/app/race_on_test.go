//go:build race

package app_test

// raceEnabled: the race detector drops sync.Pool items at random, so
// allocation counts are not the production ones.
const raceEnabled = true
