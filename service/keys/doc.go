// Package keys holds lktoken's LiveKit API keys: where they come from
// ([Source]: the environment, a secret file or LiveKit's keys file), the set
// loaded ([Set]) and the [Ring] every mint reads, which a reload (SIGHUP)
// swaps atomically. It knows nothing of requests or HTTP.
package keys
