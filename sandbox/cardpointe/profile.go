package cardpointe

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// profileFields are the cardholder fields a stored profile account keeps
// and echoes (spec §2.8).
var profileFields = []string{"name", "company", "address", "address2", "city", "region", "country", "postal", "phone", "email"}

// profile is a stored customer profile: one or more accounts, one default.
type profile struct {
	id, merchid string
	accts       []*profileAcct
	lastAcct    int
}

// profileAcct is one stored account of a profile.
type profileAcct struct {
	profile *profile
	acctid  string
	token   string
	masked  string
	brand   brand
	expiry  string
	def     bool
	data    map[string]string // profileFields present
}

func (p *profile) acct(acctid string) *profileAcct {
	for _, a := range p.accts {
		if a.acctid == acctid {
			return a
		}
	}
	return nil
}

func (p *profile) defaultAcct() *profileAcct {
	for _, a := range p.accts {
		if a.def {
			return a
		}
	}
	return nil
}

// findProfileAcct finds "<profileid>/<acctid>", or the default account of
// "<profileid>". Caller holds s.mu.
func (s *Server) findProfileAcct(merchid, ref string) *profileAcct {
	id, acctid, _ := strings.Cut(ref, "/")
	p := s.profiles[id]
	if p == nil || p.merchid != merchid {
		return nil
	}
	if acctid == "" {
		return p.defaultAcct()
	}
	return p.acct(acctid)
}

// addAcct stores a new account in p; the first account is the default.
func (s *Server) addAcct(p *profile, c card, expiry string, data map[string]string, makeDefault bool) *profileAcct {
	p.lastAcct++
	a := &profileAcct{
		profile: p, acctid: strconv.Itoa(p.lastAcct), token: c.token, masked: maskPAN(c.pan),
		brand: c.brand, expiry: expiry, data: data,
	}
	if makeDefault || len(p.accts) == 0 {
		for _, o := range p.accts {
			o.def = false
		}
		a.def = true
	}
	p.accts = append(p.accts, a)
	return a
}

// newProfileAcct creates a profile for an account, unless an identical one
// exists: since 7/2022 exact duplicates are not created, the existing
// profile answers instead (spec §2.8). Caller holds s.mu.
func (s *Server) newProfileAcct(merchid string, c card, expiry string, data map[string]string) *profileAcct {
	for _, p := range s.profiles {
		if p.merchid != merchid {
			continue
		}
		for _, a := range p.accts {
			if a.token == c.token && a.expiry == expiry && maps.Equal(a.data, data) {
				return a
			}
		}
	}
	p := &profile{id: s.newProfileID(), merchid: merchid}
	s.profiles[p.id] = p
	return s.addAcct(p, c, expiry, data, true)
}

// saveProfileFromAuth stores the card of an approved auth with profile Y.
func (s *Server) saveProfileFromAuth(a authRequest, c card) *profileAcct {
	return s.newProfileAcct(a.merchid, c, a.expiry, profileData(a.f))
}

// profileData collects the profile fields present in a body.
func profileData(f fields) map[string]string {
	data := map[string]string{}
	for _, k := range profileFields {
		if v, err := f.str(k); err == nil && v != "" {
			data[k] = v
		}
	}
	return data
}

// acctBody is a stored account as profile answers list it.
func acctBody(a *profileAcct) obj {
	r := obj{
		"profileid": a.profile.id, "acctid": a.acctid, "defaultacct": yn(a.def), "token": a.token,
		"accttype": a.brand.name, "auoptout": "N",
	}
	if a.expiry != "" {
		r["expiry"] = a.expiry
	}
	for k, v := range a.data {
		r[k] = v
	}
	return r
}

// profileSave answers PUT/POST profile (spec §2.8): without "profile" it
// creates a profile; with "<profileid>" it adds an account; with
// "<profileid>/<acctid>" it updates that account (profileupdate "Y"; the
// sandbox updates without the flag too). Answer: PPS 09 "Profile Saved".
func (s *Server) profileSave(f fields) obj {
	v, ok := strFields(f, "merchid", "account", "expiry", "defaultacct", "profile", "bankaba", "accttype")
	if !ok {
		return ppsBody("34")
	}
	merchid, account, expiry, defaultacct, ref, bankaba, accttype := v[0], v[1], v[2], v[3], v[4], v[5], v[6]
	if code := s.checkMerchant(merchid); code != "" {
		return ppsBody(code)
	}
	if bankaba != "" || strings.EqualFold(accttype, "ECHK") || strings.EqualFold(accttype, "ESAV") {
		return ppsBody("48")
	}
	if code := checkExpiry(expiry); code != "" {
		return ppsBody(code)
	}
	data := profileData(f)
	s.mu.Lock()
	defer s.mu.Unlock()
	var a *profileAcct
	id, acctid, _ := strings.Cut(ref, "/")
	switch {
	case ref == "":
		c, code := s.resolveAccount(account)
		if code != "" {
			return ppsBody(code)
		}
		a = s.newProfileAcct(merchid, c, expiry, data)
	case acctid == "":
		p := s.profiles[id]
		if p == nil || p.merchid != merchid {
			return ppsBody("96")
		}
		c, code := s.resolveAccount(account)
		if code != "" {
			return ppsBody(code)
		}
		a = s.addAcct(p, c, expiry, data, yes(defaultacct))
	default:
		if a = s.findProfileAcct(merchid, ref); a == nil {
			return ppsBody("96")
		}
		if account != "" {
			c, code := s.resolveAccount(account)
			if code != "" {
				return ppsBody(code)
			}
			a.token, a.masked, a.brand = c.token, maskPAN(c.pan), c.brand
		}
		if expiry != "" {
			a.expiry = expiry
		}
		maps.Copy(a.data, data)
		if yes(defaultacct) {
			for _, o := range a.profile.accts {
				o.def = o == a
			}
		}
	}
	s.logf("profile save profileid=%s acctid=%s account=%s", a.profile.id, a.acctid, a.masked)
	r := acctBody(a)
	maps.Copy(r, ppsBody("09"))
	r["account"] = a.masked
	return r
}

// profileOf finds profile id of merchid, or the PPS refusal (21 foreign
// MID, 96 no such profile). Caller holds s.mu.
func (s *Server) profileOf(id, merchid string) (*profile, obj) {
	if code := s.checkMerchant(merchid); code != "" {
		return nil, ppsBody(code)
	}
	p := s.profiles[id]
	if p == nil || p.merchid != merchid {
		return nil, ppsBody("96")
	}
	return p, nil
}

// profileGet answers GET profile/<profileid>/<acctid>/<merchid>: an array
// of accounts (all of them for an empty acctid), no respstat; PPS 96 when
// there is no such profile or account.
func (s *Server) profileGet(id, acctid, merchid string) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, refuse := s.profileOf(id, merchid)
	if refuse != nil {
		return refuse
	}
	var out []obj
	for _, a := range p.accts {
		if acctid == "" || a.acctid == acctid {
			out = append(out, acctBody(a))
		}
	}
	if len(out) == 0 {
		return ppsBody("96")
	}
	return out
}

// profileDelete answers DELETE profile/<profileid>/<acctid>/<merchid>: an
// empty acctid deletes the profile; deleting the default account while
// others remain is PPS 34 "Invalid field", as recorded (spec §2.8).
func (s *Server) profileDelete(id, acctid, merchid string) obj {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, refuse := s.profileOf(id, merchid)
	if refuse != nil {
		return refuse
	}
	if acctid != "" {
		a := p.acct(acctid)
		switch {
		case a == nil:
			return ppsBody("96")
		case a.def && len(p.accts) > 1:
			return ppsBody("34")
		}
		p.accts = slices.DeleteFunc(p.accts, func(x *profileAcct) bool { return x == a })
	}
	if acctid == "" || len(p.accts) == 0 {
		delete(s.profiles, id)
	}
	s.logf("profile delete profileid=%s acctid=%s", id, acctid)
	r := ppsBody("08")
	r["profileid"], r["acctid"] = id, acctid
	return r
}
