// Package product owns what the library knows about secucard's products: the
// catalog of resources and their custom actions (spec §6), the channel each call
// prefers (DESIGN §2), and typed models and helpers for the POS core.
//
// The catalog is data, not code paths: generic access works for every entry,
// and the sandbox serves every entry with the same generic CRUD.
package product

import (
	"encoding/json"
	"sort"
	"strings"
	"sync"

	"github.com/libsecucard/libsecucard/core/api"
)

// Action is a custom action of a resource.
type Action struct {
	Name  string // canonical spelling as the Java SDK sends it; matched case-insensitively
	Op    api.Op // Execute (POST) unless the SDKs use GET/PUT/DELETE for it
	STOMP bool   // the legacy SDKs force this action over STOMP
	NoID  bool   // called without an object id (smart.transactions Diagnosis)
	// Anonymous actions are sent without a bearer token (spec §3.4: Java
	// omits it for general.accounts passwordreset).
	Anonymous bool
	// DefaultData is the body sent when the caller gives none: the Java SDK
	// sends the bare string "smart.transactions" for cancel, Diagnosis,
	// EndofDay, cancelTrx and preTransaction (spec §3.5), and the server was
	// built against it.
	DefaultData json.RawMessage
	// Payment marks an action that charges money on a terminal (smart.transactions
	// start). Its idempotency key is sent but not trusted to make a repeat
	// safe (the server's dedupe is unknown, spec §9.2), and when its outcome
	// is unknown the object is read once (Settled) instead.
	Payment bool
}

// javaActionBody is that body.
var javaActionBody = json.RawMessage(`"smart.transactions"`)

// Resource is one product.resource of the API.
type Resource struct {
	Name     string // "smart.transactions"
	IDPrefix string // "STX_" (spec §7); see prefixKnown
	// PrefixKnown is false where no recorded object shows the real prefix and
	// the catalog (and the sandbox) use an invented one.
	PrefixKnown bool
	Actions     []Action
	// STOMP marks resources whose every call the legacy SDKs send over STOMP
	// (smart.checkins, loyalty.merchantcards).
	STOMP bool
	// Anonymous lists operations sent without a bearer token (spec §3.4: Java
	// and JS omit it for general.accounts create and document.uploads).
	Anonymous []api.Op
	// Spec names the sections of spec secucard-wire.md the entry rests on.
	Spec string
	// Source names the SDKs that define the resource (evidence, spec §6).
	Source string
}

// Product returns "smart" for "smart.transactions".
func (r *Resource) Product() string { p, _, _ := strings.Cut(r.Name, "."); return p }

// Short returns "transactions" for "smart.transactions".
func (r *Resource) Short() string { _, s, _ := strings.Cut(r.Name, "."); return s }

// Action finds an action by name, case-insensitively.
func (r *Resource) Action(name string) (Action, bool) {
	for _, a := range r.Actions {
		if strings.EqualFold(a.Name, name) {
			return a, true
		}
	}
	return Action{}, false
}

// ActionFor finds an action by name, case-insensitively, preferring the one
// of operation op when a name has several (assign: execute and delete).
func (r *Resource) ActionFor(name string, op api.Op) (Action, bool) {
	found, ok := Action{}, false
	for _, a := range r.Actions {
		if strings.EqualFold(a.Name, name) {
			if a.Op == op {
				return a, true
			}
			if !ok {
				found, ok = a, true
			}
		}
	}
	return found, ok
}

// IsAnonymous reports whether op is sent without a token.
func (r *Resource) IsAnonymous(op api.Op) bool {
	for _, o := range r.Anonymous {
		if o == op {
			return true
		}
	}
	return false
}

// AnonymousCall reports whether a call of op with action ("" for none) is
// sent without a token: the resource's anonymous operations without an
// action, or an anonymous action.
func (r *Resource) AnonymousCall(op api.Op, action string) bool {
	if action == "" {
		return r.IsAnonymous(op)
	}
	a, ok := r.Action(action)
	return ok && a.Anonymous
}

func exec(names ...string) []Action {
	out := make([]Action, len(names))
	for i, n := range names {
		out[i] = Action{Name: n, Op: api.Execute}
	}
	return out
}

// catalog is every resource named in spec §6: the Java SDK's services, the
// JavaScript SDK's additional resources, and those only .NET/PHP define.
// Prefixes marked known are from recorded objects (spec §7); the others follow
// the same "three letters + underscore" pattern but are our invention. The
// sandbox keeps its own table taken from the same spec
// (sandbox/catalog/resources.txt); contract_test.go fails on any difference.
var catalog = []Resource{
	// auth
	{Name: "auth.sessions", IDPrefix: "SES_", Spec: "§6.1 §6.2", Actions: []Action{{Name: "refresh", Op: api.Execute}, {Name: "debug", Op: api.Get}}, Source: "java,js"},

	// smart (POS core)
	{Name: "smart.transactions", IDPrefix: "STX_", PrefixKnown: true, Spec: "§6.1 §7.1", Source: "java,net,php,js", Actions: []Action{
		{Name: "start", Op: api.Execute, STOMP: true, Payment: true},
		{Name: "cancel", Op: api.Execute, DefaultData: javaActionBody},
		{Name: "Diagnosis", Op: api.Execute, STOMP: true, NoID: true, DefaultData: javaActionBody},
		{Name: "EndofDay", Op: api.Execute, STOMP: true, NoID: true, DefaultData: javaActionBody},
		{Name: "cancelTrx", Op: api.Execute, STOMP: true, DefaultData: javaActionBody},
		{Name: "preTransaction", Op: api.Execute, DefaultData: javaActionBody},
		{Name: "prepare", Op: api.Execute},
		{Name: "abort", Op: api.Execute},
	}},
	{Name: "smart.idents", IDPrefix: "smi_", PrefixKnown: true, Spec: "§6.1 §7.2", Actions: []Action{{Name: "read", Op: api.Execute}, {Name: "validate", Op: api.Execute}}, Source: "java,php,js"},
	{Name: "smart.checkins", IDPrefix: "CKI_", PrefixKnown: true, Spec: "§6.1 §7.2", STOMP: true, Actions: exec("TriggerPushEvent"), Source: "java,js"},
	{Name: "smart.devices", IDPrefix: "SDV_", PrefixKnown: true, Spec: "§6.2 §7.4", Source: "js"},
	{Name: "smart.devicehistories", IDPrefix: "SDH_", Spec: "§6.2", Source: "js"},
	{Name: "smart.configurations", IDPrefix: "SCF_", Spec: "§6.2", Actions: exec("importConfiguration"), Source: "js"},
	{Name: "smart.routings", IDPrefix: "SRT_", PrefixKnown: true, Spec: "§6.2 §7", Actions: []Action{{Name: "assign", Op: api.Execute}, {Name: "assign", Op: api.Delete}}, Source: "js"},

	// loyalty
	{Name: "loyalty.cards", IDPrefix: "CRD_", PrefixKnown: true, Spec: "§6.1 §7.5", Actions: []Action{{Name: "assignUser", Op: api.Execute}}, Source: "java,js"},
	{Name: "loyalty.cardgroups", IDPrefix: "CRG_", PrefixKnown: true, Spec: "§6.1 §7.5", Actions: exec("CheckPasscodeEnabled"), Source: "java,net,js"},
	{Name: "loyalty.customers", IDPrefix: "CUS_", PrefixKnown: true, Spec: "§6.1 §6.2 §7.5", Actions: exec("assignPaymentcontainer", "templateList"), Source: "java,js"},
	{Name: "loyalty.merchantcards", IDPrefix: "MCD_", PrefixKnown: true, Spec: "§6.1 §6.2 §7.5", STOMP: true, Source: "java,js", Actions: []Action{
		{Name: "CheckCsc", Op: api.Execute}, {Name: "CheckPasscode", Op: api.Execute},
		{Name: "transaction", Op: api.Execute}, {Name: "lock", Op: api.Execute}, {Name: "unlock", Op: api.Execute},
		{Name: "registerCustomer", Op: api.Execute}, {Name: "lockreasons", Op: api.Get}, {Name: "cardgroup", Op: api.Update},
		{Name: "virtualTerminalData", Op: api.Get}, {Name: "templateList", Op: api.Get},
	}},
	{Name: "loyalty.acceptancepointtemplates", IDPrefix: "LAT_", Spec: "§6.2", Source: "js"},
	{Name: "loyalty.actions", IDPrefix: "LAC_", Spec: "§6.2", Source: "js"},
	{Name: "loyalty.actioncampaigns", IDPrefix: "LCA_", Spec: "§6.2", Actions: exec("campaignRemoveAllowed"), Source: "js"},
	{Name: "loyalty.actionconfigs", IDPrefix: "LCF_", Spec: "§6.2", Actions: exec("checkConfirmationCode", "processConfirmationCode", "cancelConfirmationCode"), Source: "js"},
	{Name: "loyalty.actionmessages", IDPrefix: "LAM_", Spec: "§6.2", Source: "js"},
	{Name: "loyalty.actionprofiles", IDPrefix: "LAP_", Spec: "§6.2", Source: "js"},
	{Name: "loyalty.approvals", IDPrefix: "LAV_", Spec: "§6.2", Source: "js"},
	{Name: "loyalty.beacons", IDPrefix: "LBC_", PrefixKnown: true, Spec: "§6.2 §7", Source: "js"},
	{Name: "loyalty.charges", IDPrefix: "LCH_", Spec: "§6.2", Source: "js"},
	{Name: "loyalty.checkins", IDPrefix: "LCI_", Spec: "§6.2", Source: "js"},
	{Name: "loyalty.paymentcontainers", IDPrefix: "LPC_", Spec: "§6.2", Actions: exec("validateIban"), Source: "js"},
	{Name: "loyalty.programs", IDPrefix: "LPG_", Spec: "§6.2", Source: "js"},
	{Name: "loyalty.programspecials", IDPrefix: "LPS_", Spec: "§6.2", Source: "js"},
	{Name: "loyalty.reports", IDPrefix: "LRP_", Spec: "§6.2", Source: "js"},
	{Name: "loyalty.sales", IDPrefix: "sls_", PrefixKnown: true, Spec: "§6.2 §7.5", Source: "js"},
	{Name: "loyalty.storegroups", IDPrefix: "LSG_", Spec: "§6.2", Source: "js"},
	{Name: "loyalty.transactions", IDPrefix: "LTR_", Spec: "§6.2", Actions: []Action{{Name: "templateList", Op: api.Get}}, Source: "js"},

	// general
	{Name: "general.accounts", IDPrefix: "ACC_", PrefixKnown: true, Spec: "§3.4 §6.1 §7.7", Anonymous: []api.Op{api.Create}, Source: "java,js", Actions: []Action{
		{Name: "location", Op: api.Update, STOMP: true}, {Name: "beaconEnvironment", Op: api.Update, STOMP: true},
		{Name: "gcm", Op: api.Update, STOMP: true}, {Name: "passwordreset", Op: api.Execute, Anonymous: true},
	}},
	{Name: "general.accountdevices", IDPrefix: "ACD_", PrefixKnown: true, Spec: "§5.3 §6.1 §7", Source: "java,js"},
	{Name: "general.accountinvitations", IDPrefix: "AIN_", Spec: "§6.2", Source: "js"},
	{Name: "general.apps", IDPrefix: "APP_", PrefixKnown: true, Spec: "§4.13 §6.1 §7", Actions: exec("callBackend"), Source: "java,js"},
	{Name: "general.contacts", IDPrefix: "CNT_", PrefixKnown: true, Spec: "§6.2 §7.7", Source: "js"},
	{Name: "general.contracts", IDPrefix: "GCR_", Spec: "§6.2", Actions: []Action{
		{Name: "getAvailablePaymentMethods", Op: api.Execute}, {Name: "iframeOptions", Op: api.Get},
		{Name: "revokeAccrual", Op: api.Execute}, {Name: "updateBankAccount", Op: api.Execute},
	}, Source: "php,js"},
	{Name: "general.deliveryaddresses", IDPrefix: "ADR_", Spec: "§6.2", Source: "js"},
	{Name: "general.devices", IDPrefix: "DEV_", PrefixKnown: true, Spec: "§6.2 §7", Source: "js"},
	{Name: "general.fileaccesses", IDPrefix: "FAC_", Spec: "§6.2", Source: "js"},
	{Name: "general.merchants", IDPrefix: "MRC_", PrefixKnown: true, Spec: "§6.1 §6.2 §7.7", Actions: exec("getpublicdata"), Source: "java,php"},
	{Name: "general.news", IDPrefix: "NEW_", PrefixKnown: true, Spec: "§6.1 §7", Actions: exec("markRead"), Source: "java"},
	{Name: "general.notifications", IDPrefix: "NOT_", Spec: "§5.3 §6.1 §7.7", Source: "java"},
	{Name: "general.publicmerchants", IDPrefix: "PMC_", PrefixKnown: true, Spec: "§6.1 §7", Source: "java"},
	{Name: "general.skeletons", IDPrefix: "SKL_", Spec: "§5.2 §6.2", Actions: exec("demoevent"), Source: "js"},
	{Name: "general.storegroups", IDPrefix: "STG_", Spec: "§6.2", Source: "js"},
	{Name: "general.stores", IDPrefix: "STO_", PrefixKnown: true, Spec: "§6.1 §7.7", Actions: exec("checkin", "setDefault"), Source: "java,js"},
	{Name: "general.transactions", IDPrefix: "TRX_", PrefixKnown: true, Spec: "§5.3 §6.1 §7.7", Source: "java"},

	// document
	{Name: "document.uploads", IDPrefix: "DUP_", Spec: "§3.4 §6.1 §8.2", Anonymous: []api.Op{api.Create}, Actions: []Action{{Name: "Download", Op: api.Get}}, Source: "java,js"},

	// payment
	{Name: "payment.containers", IDPrefix: "PCT_", Spec: "§6.1 §6.2 §7.6", Actions: []Action{{Name: "assign", Op: api.Execute}, {Name: "assign", Op: api.Delete}}, Source: "java,js"},
	{Name: "payment.customers", IDPrefix: "PCU_", PrefixKnown: true, Spec: "§6.1 §7.6", Source: "java"},
	{Name: "payment.contracts", IDPrefix: "PCR_", PrefixKnown: true, Spec: "§6.1 §6.2 §7.6", Actions: exec("clone", "requestId", "paymentMethods", "revokeAccrual"), Source: "java,net,php"},
	{Name: "payment.secupaydebits", IDPrefix: "PDB_", Spec: "§6.1 §6.2 §7.6", Actions: secupayActions(), Source: "java,net,php,js"},
	{Name: "payment.secupayprepays", IDPrefix: "PPP_", Spec: "§6.1 §6.2 §7.6", Actions: secupayActions(), Source: "java,net,php,js"},
	{Name: "payment.secupaycreditcards", IDPrefix: "PCC_", Spec: "§6.1 §6.2 §7.6", Actions: secupayActions(), Source: "java,net,php"},
	{Name: "payment.secupayinvoices", IDPrefix: "PIV_", Spec: "§6.1 §6.2 §7.6", Actions: secupayActions(), Source: "java,net,php"},
	{Name: "payment.secupaysofort", IDPrefix: "PSF_", Spec: "§6.2 §7.6", Actions: secupayActions(), Source: "net,php"},
	{Name: "payment.secupaypayout", IDPrefix: "PPO_", Spec: "§6.1 §6.2 §7.6", Actions: exec("cancel", "PayoutWithoutCustomer"), Source: "java,js"},
	{Name: "payment.transactions", IDPrefix: "PCI_", PrefixKnown: true, Spec: "§6.1 §6.2 §7", Source: "java,net,php,js", Actions: []Action{
		{Name: "oldFormat", Op: api.Get}, {Name: "crowdfundingdata", Op: api.Get}, {Name: "checkStatus", Op: api.Get},
		{Name: "assignPayment", Op: api.Execute}, {Name: "cancel", Op: api.Execute}, {Name: "capture", Op: api.Execute},
		{Name: "basket", Op: api.Update}, {Name: "revokeAccrual", Op: api.Execute}, {Name: "shippingInformation", Op: api.Update},
		{Name: "shippingUrl", Op: api.Get}, {Name: "increaseAmount", Op: api.Execute},
	}},
	{Name: "payment.checkins", IDPrefix: "PCK_", Spec: "§6.2", Source: "php"},
	{Name: "payment.eterminaltransactions", IDPrefix: "PET_", Spec: "§6.2", Source: "js"},
	{Name: "payment.invoices", IDPrefix: "PIN_", Spec: "§6.2", Source: "js"},
	{Name: "payment.mandates", IDPrefix: "PMD_", Spec: "§6.2", Actions: exec("bulk"), Source: "js"},
	{Name: "payment.payouts", IDPrefix: "PPY_", Spec: "§6.2", Source: "js"},
	{Name: "payment.transactionhistories", IDPrefix: "PTH_", Spec: "§6.2", Source: "js"},

	// prepaid
	{Name: "prepaid.contracts", IDPrefix: "PPC_", Spec: "§6.2", Actions: exec("createSalesReportKonsum"), Source: "js"},
	{Name: "prepaid.itemgroups", IDPrefix: "PIG_", Spec: "§6.2", Source: "js"},
	{Name: "prepaid.items", IDPrefix: "PIT_", Spec: "§6.2", Source: "js"},
	{Name: "prepaid.reports", IDPrefix: "PRP_", Spec: "§6.2", Source: "js"},
	{Name: "prepaid.sales", IDPrefix: "PSA_", Spec: "§6.2", Actions: exec("cancel"), Source: "js"},
	{Name: "prepaid.stocks", IDPrefix: "PST_", Spec: "§6.2", Actions: exec("deliver"), Source: "js"},

	// services (identity)
	{Name: "services.identcases", IDPrefix: "SCS_", Spec: "§6.2", Actions: []Action{
		{Name: "start", Op: api.Execute}, {Name: "close", Op: api.Execute}, {Name: "reset", Op: api.Execute}, {Name: "task", Op: api.Update},
	}, Source: "php,js"},
	{Name: "services.identcontracts", IDPrefix: "SIC_", PrefixKnown: true, Spec: "§6.2 §7", Source: "js"},
	{Name: "services.identrequests", IDPrefix: "SIR_", PrefixKnown: true, Spec: "§6.1 §7.9", Source: "java,php"},
	{Name: "services.identresults", IDPrefix: "SIS_", PrefixKnown: true, Spec: "§5.3 §6.1 §7.9", Source: "java,php"},
	{Name: "services.uploadidents", IDPrefix: "SUI_", Spec: "§6.2", Source: "php"},

	// other products named by the JavaScript SDK
	{Name: "cardprocessing.invoices", IDPrefix: "CPI_", Spec: "§6.2", Source: "js"},
	{Name: "cardprocessing.transactions", IDPrefix: "CPT_", Spec: "§6.2", Source: "js"},
	{Name: "clearing.sepainbatchs", IDPrefix: "CSI_", Spec: "§6.2", Source: "js"},
	{Name: "clearing.sepainrecords", IDPrefix: "CSR_", Spec: "§6.2", Source: "js"},
	{Name: "clearing.sepaoutbatchs", IDPrefix: "CSO_", Spec: "§6.2", Source: "js"},
	{Name: "clearing.sepaoutrecords", IDPrefix: "CSQ_", Spec: "§6.2", Source: "js"},
	{Name: "easycredit.transactions", IDPrefix: "ECT_", Spec: "§6.2", Source: "js"},
	{Name: "event.actions", IDPrefix: "EVA_", Spec: "§6.2", Source: "js"},
	{Name: "event.pushs", IDPrefix: "EPS_", PrefixKnown: true, Spec: "§5.2 §7", Source: "net,js"},
	{Name: "public.website", IDPrefix: "PWS_", Spec: "§6.2", Source: "js"},
}

// secupayActions are the actions shared by the secupay payment resources.
func secupayActions() []Action {
	return []Action{
		{Name: "cancel", Op: api.Execute}, {Name: "capture", Op: api.Execute},
		{Name: "basket", Op: api.Update}, {Name: "accrual", Op: api.Update},
		{Name: "shippingInformation", Op: api.Update}, {Name: "assignExternalInvoicePdf", Op: api.Execute},
	}
}

var (
	indexOnce sync.Once
	index     map[string]*Resource
)

func buildIndex() {
	index = make(map[string]*Resource, len(catalog))
	for i := range catalog {
		index[strings.ToLower(catalog[i].Name)] = &catalog[i]
	}
}

// Lookup finds a resource by "product.resource", case-insensitively
// ("Smart.Transactions" finds smart.transactions).
func Lookup(name string) (*Resource, bool) {
	indexOnce.Do(buildIndex)
	r, ok := index[strings.ToLower(name)]
	return r, ok
}

// All returns every resource, sorted by name. The slice is a copy; the
// resources must not be modified.
func All() []*Resource {
	indexOnce.Do(buildIndex)
	out := make([]*Resource, 0, len(catalog))
	for i := range catalog {
		out = append(out, &catalog[i])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CatalogNames lists the catalog by name: {"products": [...], "resources":
// [...]}, both sorted. Bindings use it to offer products as attributes.
type CatalogNames struct {
	Products  []string `json:"products"`
	Resources []string `json:"resources"`
}

// Names returns the catalog's product and resource names.
func Names() CatalogNames {
	var n CatalogNames
	seen := map[string]bool{}
	for _, r := range All() {
		n.Resources = append(n.Resources, r.Name)
		p, _, _ := strings.Cut(r.Name, ".")
		if !seen[p] {
			seen[p] = true
			n.Products = append(n.Products, p)
		}
	}
	sort.Strings(n.Products)
	return n
}

// Suggest returns the catalog name closest to an unknown one, for "did you
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

// DefaultData returns the body an action is sent with when the caller gives
// none, or nil.
func DefaultData(resource, action string, op api.Op) json.RawMessage {
	r, ok := Lookup(resource)
	if !ok || action == "" {
		return nil
	}
	if a, ok := r.ActionFor(action, op); ok && a.Op == op {
		return a.DefaultData
	}
	return nil
}

// finalStatuses are the smart.transactions statuses after which nothing more
// happens to a payment (spec §7.1: the Java constants, PHP's "cancelled").
// Everything else (created, pending, processing, received, ...) may still
// change; unknown statuses count as not final, so an unsure answer never
// passes for a settled payment.
var finalStatuses = map[string]bool{
	"ok": true, "failed": true, "canceled": true, "cancelled": true,
	"aborted": true, "timeout": true, "finished": true, "declined": true,
}

// unpaidStatuses are the final smart.transactions statuses of a start that
// ended without a payment (spec §7.1's Java constants; "declined" is not
// among them and is accepted in case a server sends it). ok and finished
// mean paid; other statuses (processing, pending, ...) are not final and
// are left to the host.
var unpaidStatuses = map[string]bool{
	"failed": true, "declined": true, "aborted": true, "canceled": true, "cancelled": true, "timeout": true,
}

// Unpaid reports whether obj, the answer of a Payment action on resource,
// is a payment that ended without being made, and its status.
func Unpaid(resource string, obj json.RawMessage) (status string, unpaid bool) {
	status, final := Settled(resource, obj)
	return status, final && unpaidStatuses[strings.ToLower(status)]
}

// Settled reads the status of an object that a Payment action acted on and
// reports whether it is final, so the result can stand for the lost answer.
func Settled(resource string, obj json.RawMessage) (status string, final bool) {
	var o struct {
		Status json.RawMessage `json:"status"`
	}
	if json.Unmarshal(obj, &o) != nil {
		return "", false
	}
	status = strings.TrimSpace(strings.Trim(string(o.Status), `"`))
	if !strings.EqualFold(resource, ResSmartTransactions) || len(o.Status) == 0 || o.Status[0] != '"' {
		return status, false
	}
	return status, finalStatuses[strings.ToLower(status)]
}

// PreferSTOMP reports whether the legacy SDKs send this call over STOMP
// (DESIGN §2, spec §9.1): smart.transactions start/Diagnosis/EndofDay/cancelTrx,
// every smart.checkins and loyalty.merchantcards call, and the general.accounts
// location/beacon/GCM updates. Everything else goes over REST.
func PreferSTOMP(req *api.Request) bool {
	r, ok := Lookup(req.Resource)
	if !ok {
		return false
	}
	if r.STOMP {
		return true
	}
	if req.Action == "" {
		return false
	}
	a, ok := r.Action(req.Action)
	return ok && a.STOMP
}
