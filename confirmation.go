package apiguard

import jsonv2 "github.com/go-json-experiment/json"

// confirmation is the cnf claim (RFC 7800); only jkt (RFC 9449) is read.
type confirmation struct {
	JKT string
}

func (c *confirmation) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '{' {
		return errClaimType
	}
	var v struct {
		JKT *string `json:"jkt"`
	}
	if err := jsonv2.Unmarshal(b, &v); err != nil { // "JKT" is not jkt
		return errClaimType
	}
	if v.JKT != nil {
		if *v.JKT == "" {
			return errClaimType
		}
		c.JKT = *v.JKT
	}
	return nil
}
