package config

import "github.com/agext/levenshtein"

// didYouMean returns the candidate closest to given, or "" when none is close
// enough to be a likely typo.
func didYouMean(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if dist := levenshtein.Distance(given, c, nil); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	return best
}
