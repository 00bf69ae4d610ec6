package executor

// graph is how an apply's works depend on each other: by what their
// secrets need (references and depends_on), and by what their values are
// made from (references only).
type graph struct {
	works []*work
	// rotations are the works that make, or undo, a new value.
	rotations []*work
	// main is each planned secret's work that other secrets wait for: its
	// rotation, sync or retire, not the retire a rotation does first.
	main map[string]*work
	// derived lists, by secret name, the rotations whose value is made
	// from that secret's value.
	derived map[string][]*work
}

func newGraph(works []*work) *graph {
	g := &graph{works: works, main: map[string]*work{}, derived: map[string][]*work{}}
	for _, w := range works {
		if w.retiresFirst() {
			continue
		}
		g.main[w.secret.Name] = w
		if w.kind == kindRotation || w.kind == kindRollback {
			g.rotations = append(g.rotations, w)
			for _, src := range w.secret.Derives {
				g.derived[src] = append(g.derived[src], w)
			}
		}
	}
	return g
}

// levels groups the works by dependency depth among the planned secrets.
// The plan lists changes in dependency order, so one pass suffices; a
// secret's retire-first shares its level.
func (g *graph) levels() [][]*work {
	depth := map[string]int{}
	var out [][]*work
	for _, w := range g.works {
		d, seen := depth[w.secret.Name]
		if !seen {
			for _, need := range w.secret.Needs() {
				if nd, ok := depth[need]; ok && nd+1 > d {
					d = nd + 1
				}
			}
			depth[w.secret.Name] = d
		}
		for len(out) <= d {
			out = append(out, nil)
		}
		out[d] = append(out[d], w)
	}
	return out
}

// failedUpstream returns the work of a secret w needs that did not succeed,
// or nil.
func (g *graph) failedUpstream(w *work) *work {
	for _, need := range w.secret.Needs() {
		if up := g.main[need]; up != nil && !succeeded(up.state) {
			return up
		}
	}
	return nil
}

// related returns the rotations that must share w's fate: those made from
// w's value, and those w's value is made from.
func (g *graph) related(w *work) []*work {
	out := append([]*work(nil), g.derived[w.secret.Name]...)
	for _, src := range w.secret.Derives {
		if r := g.main[src]; r != nil && (r.kind == kindRotation || r.kind == kindRollback) {
			out = append(out, r)
		}
	}
	return out
}

// familyPassed reports whether every rotation made from w's value, and
// from those in turn, has passed its checks.
func (g *graph) familyPassed(w *work) bool {
	stack := append([]*work(nil), g.derived[w.secret.Name]...)
	seen := map[*work]bool{}
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[d] {
			continue
		}
		seen[d] = true
		if !d.passed() {
			return false
		}
		stack = append(stack, g.derived[d.secret.Name]...)
	}
	return true
}
