package inject

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxReviewBytes bounds an AdmissionReview body; the API server sends at
// most about 3 MiB of object.
const maxReviewBytes = 4 << 20

// Webhook is the mutating admission webhook: it injects the pods that carry
// the annotation streamgate.io/inject: "true", by a JSON patch.
type Webhook struct {
	injector *Injector
	logger   *slog.Logger
}

// NewWebhook returns the webhook's handler for POST /mutate.
func NewWebhook(in *Injector, logger *slog.Logger) *Webhook {
	return &Webhook{injector: in, logger: logger}
}

func (wh *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST an AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		http.Error(w, "want Content-Type application/json", http.StatusUnsupportedMediaType)
		return
	}
	var review admissionv1.AdmissionReview
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxReviewBytes))
	if err := dec.Decode(&review); err != nil {
		http.Error(w, "not an AdmissionReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	if review.Request == nil {
		http.Error(w, "AdmissionReview has no request", http.StatusBadRequest)
		return
	}
	resp := wh.review(review.Request)
	resp.UID = review.Request.UID
	out := admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp}
	if out.APIVersion == "" {
		out.APIVersion, out.Kind = "admission.k8s.io/v1", "AdmissionReview"
	}
	body, err := json.Marshal(out)
	if err != nil {
		http.Error(w, "encoding the response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// review decides one admission request: allowed unchanged unless it creates
// a pod that asks for injection; denied when that pod cannot be injected,
// since a pod the user meant to gate must not run ungated.
func (wh *Webhook) review(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	allow := &admissionv1.AdmissionResponse{Allowed: true}
	if req.Kind.Group != "" || req.Kind.Kind != "Pod" || req.Operation != admissionv1.Create || req.SubResource != "" {
		return allow
	}
	var head struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(req.Object.Raw, &head); err != nil {
		return deny(http.StatusBadRequest, "streamgate: decoding the pod: "+err.Error())
	}
	name := head.Metadata.Name
	if name == "" {
		name = head.Metadata.GenerateName
	}
	log := wh.logger.With("namespace", req.Namespace, "pod", name, "uid", string(req.UID))
	if head.Metadata.Annotations[AnnotationInject] != "true" {
		log.Debug("pod not annotated for injection", "annotation", AnnotationInject)
		return allow
	}
	ops, res, err := wh.injector.PodPatch(req.Object.Raw)
	if err != nil {
		log.Warn("pod denied: cannot inject", "err", err)
		code := int32(http.StatusUnprocessableEntity)
		if errors.Is(err, ErrNoPort) {
			return deny(code, fmt.Sprintf("streamgate: cannot inject the sidecar: %v; set -port on the webhook or the %s annotation on the pod", err, AnnotationPort))
		}
		return deny(code, "streamgate: cannot inject the sidecar: "+err.Error())
	}
	allow.Warnings = res.Warnings
	if len(ops) == 0 {
		log.Debug("pod already injected")
		return allow
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return deny(http.StatusInternalServerError, "streamgate: encoding the patch: "+err.Error())
	}
	allow.Patch = patch
	allow.PatchType = new(admissionv1.PatchTypeJSONPatch)
	log.Info("pod injected", "container", res.App, "port", portLabel(res.Port))
	return allow
}

func deny(code int32, msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{
		Allowed: false,
		Result:  &metav1.Status{Status: metav1.StatusFailure, Code: code, Message: msg, Reason: metav1.StatusReasonInvalid},
	}
}
