package sandbox

func init() {
	actionHandlers["smart.idents.read"] = actionHandler{fn: (*Server).identRead}
	actionHandlers["smart.idents.validate"] = actionHandler{fn: (*Server).identValidate}
	actionHandlers["loyalty.merchantcards.checkcsc"] = actionHandler{fn: (*Server).checkCSC}
	actionHandlers["loyalty.merchantcards.checkpasscode"] = actionHandler{fn: (*Server).checkPasscode}
	actionHandlers["general.skeletons.demoevent"] = actionHandler{fn: (*Server).demoEvent}
}

// identRead answers smart/idents/<id>/read with the ident (Java readIdent).
func (s *Server) identRead(c *call) (any, *apiError) {
	o, _ := s.find("smart.idents", c.id)
	return o, nil
}

// identValidate answers PHP's smart/idents/notused/validate with the given
// idents completed and marked valid or not.
func (s *Server) identValidate(c *call) (any, *apiError) {
	idents, ok := c.body.([]any)
	if !ok {
		return nil, errFormat("validate needs an array of {\"value\", \"type\"} objects")
	}
	holder := object{"idents": clone(idents)}
	if aerr := validateTx(holder); aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	s.completeIdentsLocked(holder)
	s.mu.Unlock()
	return holder["idents"], nil
}

// checkCSC answers loyalty/merchantcards/me/CheckCsc {cardnumber, csc}.
func (s *Server) checkCSC(c *call) (any, *apiError) {
	return s.checkCardSecret(c, "csc", func(cs cardSecret) string { return cs.csc })
}

// checkPasscode answers loyalty/merchantcards/me/CheckPasscode {cardnumber, pin}.
func (s *Server) checkPasscode(c *call) (any, *apiError) {
	return s.checkCardSecret(c, "pin", func(cs cardSecret) string { return cs.pin })
}

func (s *Server) checkCardSecret(c *call, field string, secret func(cardSecret) string) (any, *apiError) {
	body, aerr := c.bodyObject()
	if aerr != nil {
		return nil, aerr
	}
	card, _ := scalarString(body["cardnumber"])
	if card == "" {
		return nil, errFormat("cardnumber is required")
	}
	given, _ := scalarString(body[field])
	if given == "" {
		return nil, errFormat("%s is required", field)
	}
	s.mu.Lock()
	cs, ok := s.cardSecrets[card]
	s.mu.Unlock()
	return map[string]any{"result": ok && equalSecret(given, secret(cs))}, nil
}

// demoEvent answers general/skeletons/<id>/demoevent and pushes the recorded
// DemoEvent (spec §5.2).
func (s *Server) demoEvent(c *call) (any, *apiError) {
	s.pushToClient(c.client, Event{Target: "general.skeletons", Type: "DemoEvent", Data: mustEncode(map[string]any{"demo": "event"})})
	return map[string]any{"result": true}, nil
}
