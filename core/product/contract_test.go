package product

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/api"
	sandboxcatalog "github.com/libsecucard/libsecucard/sandbox/catalog"
)

// The client catalog and the sandbox's table are written separately from
// the same spec (secucard-wire.md §6). The sandbox serves only what its
// table says, so a name the client gets wrong fails against it, but only
// if the two tables are not simply copies; this contract makes any
// disagreement visible, naming the resource and the action.

// contractView is what both tables must agree on, by lower-case resource
// name.
type contractView map[string]resourceView

type resourceView struct {
	name      string
	prefix    string
	anonymous []string              // operations sent without a token
	actions   map[string]actionView // by lower-case name
}

type actionView struct {
	name            string // as spelled
	noID, anonymous bool
}

func clientView(rs []*Resource) contractView {
	out := contractView{}
	for _, r := range rs {
		v := resourceView{name: r.Name, prefix: r.IDPrefix, actions: map[string]actionView{}}
		for _, op := range r.Anonymous {
			v.anonymous = append(v.anonymous, string(op))
		}
		for _, a := range r.Actions {
			key := strings.ToLower(a.Name)
			prev, seen := v.actions[key]
			// An action may appear once per verb (assign POST and DELETE);
			// it is one action with one set of flags.
			v.actions[key] = actionView{name: a.Name, noID: a.NoID || (seen && prev.noID), anonymous: a.Anonymous || (seen && prev.anonymous)}
		}
		out[strings.ToLower(r.Name)] = v
	}
	return out
}

func sandboxView(rs []*sandboxcatalog.Resource) contractView {
	out := contractView{}
	for _, r := range rs {
		v := resourceView{name: r.Name, prefix: r.IDPrefix, actions: map[string]actionView{}}
		if r.AnonymousCreate {
			v.anonymous = []string{string(api.Create)}
		}
		for _, a := range r.Actions {
			v.actions[strings.ToLower(a.Name)] = actionView{name: a.Name, noID: a.NoID, anonymous: a.Anonymous}
		}
		out[strings.ToLower(r.Name)] = v
	}
	return out
}

// contractDiff lists every disagreement, one line each, sorted.
func contractDiff(client, sandbox contractView) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for key, c := range client {
		s, ok := sandbox[key]
		if !ok {
			add("resource %s: only in the client catalog", c.name)
			continue
		}
		if c.name != s.name {
			add("resource %s: spelled %q in the sandbox table", c.name, s.name)
		}
		if c.prefix != s.prefix {
			add("resource %s: id prefix %q in the client catalog, %q in the sandbox table", c.name, c.prefix, s.prefix)
		}
		sort.Strings(c.anonymous)
		sort.Strings(s.anonymous)
		if strings.Join(c.anonymous, ",") != strings.Join(s.anonymous, ",") {
			add("resource %s: anonymous operations [%s] in the client catalog, [%s] in the sandbox table",
				c.name, strings.Join(c.anonymous, ","), strings.Join(s.anonymous, ","))
		}
		for akey, ca := range c.actions {
			sa, ok := s.actions[akey]
			switch {
			case !ok:
				add("resource %s: action %s only in the client catalog", c.name, ca.name)
				continue
			case ca.name != sa.name:
				add("resource %s: action %s is spelled %s in the sandbox table", c.name, ca.name, sa.name)
			}
			if ca.noID != sa.noID {
				add("resource %s: action %s: no-id is %t in the client catalog, %t in the sandbox table", c.name, ca.name, ca.noID, sa.noID)
			}
			if ca.anonymous != sa.anonymous {
				add("resource %s: action %s: anonymous is %t in the client catalog, %t in the sandbox table", c.name, ca.name, ca.anonymous, sa.anonymous)
			}
		}
		for akey, sa := range s.actions {
			if _, ok := c.actions[akey]; !ok {
				add("resource %s: action %s only in the sandbox table", c.name, sa.name)
			}
		}
	}
	for key, s := range sandbox {
		if _, ok := client[key]; !ok {
			add("resource %s: only in the sandbox table", s.name)
		}
	}
	sort.Strings(out)
	return out
}

func TestCatalogMatchesTheSandboxTable(t *testing.T) {
	diff := contractDiff(clientView(All()), sandboxView(sandboxcatalog.All()))
	assert.Empty(t, diff, "client catalog (core/product/catalog.go) and sandbox table (sandbox/catalog/resources.txt) disagree:\n%s",
		strings.Join(diff, "\n"))
}

// The contract must notice a change made on one side only.
func TestContractNoticesOneSidedChanges(t *testing.T) {
	sandboxWith := func(t *testing.T, old, new string) contractView {
		t.Helper()
		text := string(sandboxcatalog.Text())
		require.Contains(t, text, old)
		rs, err := sandboxcatalog.Parse([]byte(strings.Replace(text, old, new, 1)))
		require.NoError(t, err)
		ptrs := make([]*sandboxcatalog.Resource, len(rs))
		for i := range rs {
			ptrs[i] = &rs[i]
		}
		return sandboxView(ptrs)
	}
	clientWith := func(mutate func(r *Resource)) contractView {
		var rs []*Resource
		for _, r := range All() {
			c := *r
			c.Actions = append([]Action(nil), r.Actions...)
			c.Anonymous = append([]api.Op(nil), r.Anonymous...)
			mutate(&c)
			rs = append(rs, &c)
		}
		return clientView(rs)
	}
	renameClientAction := func(resource, from, to string) func(*Resource) {
		return func(r *Resource) {
			if r.Name != resource {
				return
			}
			for i := range r.Actions {
				if r.Actions[i].Name == from {
					r.Actions[i].Name = to
				}
			}
		}
	}
	client, sandbox := clientView(All()), sandboxView(sandboxcatalog.All())

	cases := []struct {
		name            string
		client, sandbox contractView
		want            []string
	}{
		{"action renamed in the sandbox table", client, sandboxWith(t, "  action CheckCsc §6.1", "  action CheckCvc §6.1"), []string{
			"resource loyalty.merchantcards: action CheckCsc only in the client catalog",
			"resource loyalty.merchantcards: action CheckCvc only in the sandbox table"}},
		{"action renamed in the client catalog", clientWith(renameClientAction("smart.transactions", "cancelTrx", "cancelTx")), sandbox, []string{
			"resource smart.transactions: action cancelTrx only in the sandbox table",
			"resource smart.transactions: action cancelTx only in the client catalog"}},
		{"action respelled in the client catalog", clientWith(renameClientAction("smart.transactions", "EndofDay", "EndOfDay")), sandbox, []string{
			"resource smart.transactions: action EndOfDay is spelled EndofDay in the sandbox table"}},
		{"no-id lost in the sandbox table", client, sandboxWith(t, "action Diagnosis no-id", "action Diagnosis"), []string{
			"resource smart.transactions: action Diagnosis: no-id is true in the client catalog, false in the sandbox table"}},
		{"anonymous action lost in the client catalog", clientWith(func(r *Resource) {
			for i := range r.Actions {
				r.Actions[i].Anonymous = false
			}
		}), sandbox, []string{"resource general.accounts: action passwordreset: anonymous is false in the client catalog, true in the sandbox table"}},
		{"anonymous create added in the client catalog", clientWith(func(r *Resource) {
			if r.Name == "smart.transactions" {
				r.Anonymous = []api.Op{api.Create}
			}
		}), sandbox, []string{"resource smart.transactions: anonymous operations [create] in the client catalog, [] in the sandbox table"}},
		{"prefix changed in the sandbox table", client, sandboxWith(t, "smart.idents smi_", "smart.idents SMI_"), []string{
			`resource smart.idents: id prefix "smi_" in the client catalog, "SMI_" in the sandbox table`}},
		{"resource missing from the sandbox table", client, sandboxWith(t, "resource public.website PWS_ invented §6.2\n", ""), []string{
			"resource public.website: only in the client catalog"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, contractDiff(tc.client, tc.sandbox))
		})
	}
}
