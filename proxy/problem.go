package proxy

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// problemBase prefixes every problem type; each type is documented in the README.
const problemBase = "https://streamgate.io/problems/"

// problem is an RFC 9457 problem details object.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func newProblem(status int, slug, title, detail string) problem {
	return problem{Type: problemBase + slug, Title: title, Status: status, Detail: detail}
}

// writeProblem writes body, which must embed a problem, with status. Answers
// of the gate are about this user at this moment, so no cache may keep them.
func writeProblem(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil { // only plain structs are passed in; keep the status anyway
		b = []byte(`{"status":` + strconv.Itoa(status) + `}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// WriteProblem answers an RFC 9457 problem of type problemBase+slug, as every
// answer of the gate does; the admin API answers its own problems with it.
func WriteProblem(w http.ResponseWriter, status int, slug, title, detail string) {
	writeProblem(w, status, newProblem(status, slug, title, detail))
}
