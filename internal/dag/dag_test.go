package dag

import (
	"reflect"
	"testing"
)

func TestSort(t *testing.T) {
	tests := map[string]struct {
		n         int
		edges     [][2]int
		wantOrder []int
		wantCycle []int
	}{
		"no edges keeps node order": {n: 3, wantOrder: []int{0, 1, 2}},
		"chain against node order": {
			n: 3, edges: [][2]int{{2, 1}, {1, 0}},
			wantOrder: []int{2, 1, 0},
		},
		"diamond": {
			n: 4, edges: [][2]int{{3, 1}, {3, 2}, {1, 0}, {2, 0}},
			wantOrder: []int{3, 1, 2, 0},
		},
		"self loop": {
			n: 2, edges: [][2]int{{1, 1}},
			wantOrder: []int{0}, wantCycle: []int{1, 1},
		},
		"three cycle behind a free node": {
			n: 4, edges: [][2]int{{1, 2}, {2, 3}, {3, 1}},
			wantOrder: []int{0}, wantCycle: []int{1, 2, 3, 1},
		},
		"downstream of a cycle": {
			n: 4, edges: [][2]int{{0, 1}, {1, 0}, {1, 3}},
			wantOrder: []int{2}, wantCycle: []int{0, 1, 0},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := New(tc.n)
			for _, e := range tc.edges {
				g.AddEdge(e[0], e[1])
			}
			order, cycle := g.Sort()
			if !reflect.DeepEqual(order, tc.wantOrder) {
				t.Errorf("order = %v, want %v", order, tc.wantOrder)
			}
			if !reflect.DeepEqual(cycle, tc.wantCycle) {
				t.Errorf("cycle = %v, want %v", cycle, tc.wantCycle)
			}
		})
	}
}
