// Package catalog is the sandbox's own table of the secucard resources:
// which product.resource names exist, their custom actions, which calls go
// without a token or without an id, and the id prefixes. It is data
// (resources.txt) taken from the wire spec, each entry citing its sections;
// it never comes from the client's catalog, so a mistake there cannot hide
// behind the same mistake here. A contract test on the client side compares
// the two.
package catalog

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"sync"
)

//go:embed resources.txt
var resourcesTxt []byte

// Prefix evidence (see resources.txt).
const (
	Recorded = "recorded"
	Inferred = "inferred"
	Invented = "invented"
)

// Resource is one product.resource.
type Resource struct {
	Name            string // "smart.transactions", lower case
	IDPrefix        string // "STX_"
	PrefixEvidence  string // Recorded, Inferred or Invented
	AnonymousCreate bool   // create is sent without a bearer token
	Actions         []Action
	Spec            []string // spec sections, "§6.1"
}

// Action is a custom action of a resource.
type Action struct {
	Name      string // spelled as in resources.txt; matched case-insensitively
	NoID      bool   // called without an object id
	Anonymous bool   // sent without a bearer token
	Spec      []string
}

// Action finds an action by name, case-insensitively.
func (r *Resource) Action(name string) (*Action, bool) {
	for i := range r.Actions {
		if strings.EqualFold(r.Actions[i].Name, name) {
			return &r.Actions[i], true
		}
	}
	return nil, false
}

// ActionNames lists the actions in table order.
func (r *Resource) ActionNames() []string {
	out := make([]string, len(r.Actions))
	for i, a := range r.Actions {
		out[i] = a.Name
	}
	return out
}

var (
	loadOnce sync.Once
	table    []*Resource
	index    map[string]*Resource
)

func load() {
	rs, err := Parse(resourcesTxt)
	if err != nil {
		// resources.txt is checked in and tested; a broken table is a
		// build defect, not a runtime condition.
		panic("sandbox/catalog: " + err.Error())
	}
	index = make(map[string]*Resource, len(rs))
	for i := range rs {
		table = append(table, &rs[i])
		index[rs[i].Name] = &rs[i]
	}
	sort.Slice(table, func(i, j int) bool { return table[i].Name < table[j].Name })
}

// All returns every resource sorted by name. The resources must not be
// modified.
func All() []*Resource {
	loadOnce.Do(load)
	return append([]*Resource(nil), table...)
}

// Lookup finds a resource by "product.resource", case-insensitively.
func Lookup(name string) (*Resource, bool) {
	loadOnce.Do(load)
	r, ok := index[strings.ToLower(name)]
	return r, ok
}

// Text is the table as checked in (for tests that compare mutated copies).
func Text() []byte { return append([]byte(nil), resourcesTxt...) }

// Parse reads a table in the format of resources.txt. Every error names the
// line.
func Parse(text []byte) ([]Resource, error) {
	var out []Resource
	seen := map[string]int{}
	prefixes := map[string]string{}
	for n, line := range strings.Split(string(text), "\n") {
		lineNo := n + 1
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		words := strings.Fields(line)
		if len(words) == 0 {
			continue
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d: %s", lineNo, fmt.Sprintf(format, args...))
		}
		var flags, spec []string
		var rest []string
		for _, w := range words[1:] {
			switch {
			case strings.HasPrefix(w, "§"):
				spec = append(spec, w)
			case w == "no-id" || w == "anonymous" || w == "anonymous-create":
				flags = append(flags, w)
			default:
				rest = append(rest, w)
			}
		}
		if len(spec) == 0 {
			return nil, fail("%s has no spec section (§...)", words[0])
		}
		switch words[0] {
		case "resource":
			if len(rest) != 3 {
				return nil, fail("want: resource <product.resource> <id prefix> <recorded|inferred|invented> [anonymous-create] <§...>")
			}
			name, prefix, evidence := rest[0], rest[1], rest[2]
			p, s, ok := strings.Cut(name, ".")
			if !ok || p == "" || s == "" || strings.Contains(s, ".") || name != strings.ToLower(name) {
				return nil, fail("resource %q is not a lower-case product.resource", name)
			}
			if prev, dup := seen[name]; dup {
				return nil, fail("resource %s again (first on line %d)", name, prev)
			}
			if len(prefix) != 4 || prefix[3] != '_' {
				return nil, fail("id prefix %q of %s is not three letters and an underscore", prefix, name)
			}
			if other, dup := prefixes[strings.ToUpper(prefix)]; dup {
				return nil, fail("id prefix %s of %s is already %s's", prefix, name, other)
			}
			if evidence != Recorded && evidence != Inferred && evidence != Invented {
				return nil, fail("prefix evidence %q of %s: want recorded, inferred or invented", evidence, name)
			}
			r := Resource{Name: name, IDPrefix: prefix, PrefixEvidence: evidence, Spec: spec}
			for _, f := range flags {
				if f != "anonymous-create" {
					return nil, fail("%s is an action flag, not a resource flag", f)
				}
				r.AnonymousCreate = true
			}
			seen[name] = lineNo
			prefixes[strings.ToUpper(prefix)] = name
			out = append(out, r)
		case "action":
			if len(out) == 0 {
				return nil, fail("action before the first resource")
			}
			if len(rest) != 1 {
				return nil, fail("want: action <name> [no-id] [anonymous] <§...>")
			}
			r := &out[len(out)-1]
			if _, dup := r.Action(rest[0]); dup {
				return nil, fail("action %s of %s again", rest[0], r.Name)
			}
			a := Action{Name: rest[0], Spec: spec}
			for _, f := range flags {
				switch f {
				case "no-id":
					a.NoID = true
				case "anonymous":
					a.Anonymous = true
				default:
					return nil, fail("%s is a resource flag, not an action flag", f)
				}
			}
			r.Actions = append(r.Actions, a)
		default:
			return nil, fail("unknown entry %q: want resource or action", words[0])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the table is empty")
	}
	return out, nil
}

// Suggest returns the resource name closest to an unknown one, for "did you
// mean" messages, or "" when nothing is close.
func Suggest(name string) string {
	name = strings.ToLower(name)
	best, bestD := "", 4
	for _, r := range All() {
		if d := distance(name, r.Name); d < bestD {
			best, bestD = r.Name, d
		}
	}
	return best
}

// distance is the Levenshtein distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
