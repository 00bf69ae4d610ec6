// Package dag orders the nodes of a dependency graph and finds its cycles.
//
// Nodes are dense integers (a secret's index in declaration order), so a
// graph of ten thousand secrets costs a few slices. It imports nothing from
// rotplan; config uses it to reject cycles, planner to order the work.
package dag

import "container/heap"

// Graph is a directed graph over nodes 0..n-1. An edge from a to b means a
// must come before b.
type Graph struct {
	out [][]int
	in  []int
}

// New returns a graph with n nodes and no edges.
func New(n int) *Graph {
	return &Graph{out: make([][]int, n), in: make([]int, n)}
}

// Len returns the number of nodes.
func (g *Graph) Len() int { return len(g.out) }

// AddEdge records that before must come before after.
func (g *Graph) AddEdge(before, after int) {
	g.out[before] = append(g.out[before], after)
	g.in[after]++
}

// Successors returns the nodes that must come after n.
func (g *Graph) Successors(n int) []int { return g.out[n] }

// Sort returns the nodes in dependency order, ties broken by the lower node
// number, so the order is stable for a given input. If the graph has a cycle,
// order holds the nodes that could be ordered and cycle holds one cycle's
// path, starting and ending at the same node.
func (g *Graph) Sort() (order, cycle []int) {
	in := append([]int(nil), g.in...)
	ready := &intHeap{}
	for n, d := range in {
		if d == 0 {
			*ready = append(*ready, n)
		}
	}
	heap.Init(ready)
	order = make([]int, 0, len(in))
	for ready.Len() > 0 {
		n := heap.Pop(ready).(int)
		order = append(order, n)
		for _, m := range g.out[n] {
			in[m]--
			if in[m] == 0 {
				heap.Push(ready, m)
			}
		}
	}
	if len(order) == len(in) {
		return order, nil
	}
	return order, g.findCycle(in)
}

// findCycle walks from a node left with unmet dependencies; every such node
// lies on or downstream of a cycle, so following edges among them must
// revisit a node.
func (g *Graph) findCycle(remaining []int) []int {
	start := -1
	for n, d := range remaining {
		if d > 0 {
			start = n
			break
		}
	}
	// Walk backwards along unmet edges: each remaining node has a remaining
	// predecessor, so this must close a loop.
	preds := make([][]int, len(g.out))
	for a, outs := range g.out {
		if remaining[a] == 0 {
			continue
		}
		for _, b := range outs {
			if remaining[b] > 0 {
				preds[b] = append(preds[b], a)
			}
		}
	}
	seenAt := map[int]int{}
	var path []int
	for n := start; ; n = minInt(preds[n]) {
		if i, ok := seenAt[n]; ok {
			loop := append([]int(nil), path[i:]...)
			// path runs against the edges; reverse it to read in order.
			for l, r := 0, len(loop)-1; l < r; l, r = l+1, r-1 {
				loop[l], loop[r] = loop[r], loop[l]
			}
			// Start the loop at its lowest node so a cycle always reads the same.
			low := 0
			for i, m := range loop {
				if m < loop[low] {
					low = i
				}
			}
			loop = append(loop[low:], loop[:low]...)
			return append(loop, loop[0])
		}
		seenAt[n] = len(path)
		path = append(path, n)
	}
}

func minInt(xs []int) int {
	m := xs[0]
	for _, x := range xs[1:] {
		if x < m {
			m = x
		}
	}
	return m
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
