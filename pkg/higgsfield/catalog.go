package higgsfield

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// CatalogDate is when the built-in model catalog was compiled from the
// API's documentation (current model pages, and the older OpenAPI copy for
// models the current pages do not describe).
const CatalogDate = "2026-12-01"

// Param is one body field of a model, as documented. Values lists the
// allowed values when the docs give them (as they must be sent: "5" and 5
// differ); Range is a documented range ("1–4"); Note carries caveats.
type Param struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"` // string, integer, number, boolean, url, urls, array
	Required bool     `json:"required,omitempty"`
	Values   []string `json:"values,omitempty"`
	Range    string   `json:"range,omitempty"`
	Default  string   `json:"default,omitempty"`
	Note     string   `json:"note,omitempty"`
}

// Model is one model id a user can pass to generate, with what it makes
// (image, video or audio), its task (text-to-image, image-to-video, ...) and
// its main parameters.
type Model struct {
	ID     string  `json:"id"`
	Kind   string  `json:"kind"`
	Task   string  `json:"task,omitempty"`
	Params []Param `json:"params,omitempty"`
	// Source is where the entry comes from: "docs" (current model pages),
	// "openapi" (the older catalog), or "api" (the API's own listing).
	Source string `json:"source"`
	Note   string `json:"note,omitempty"`
}

// Param returns the model's parameter of that name.
func (m Model) Param(name string) (Param, bool) {
	i := slices.IndexFunc(m.Params, func(p Param) bool { return p.Name == name })
	if i < 0 {
		return Param{}, false
	}
	return m.Params[i], true
}

// Builders that keep the catalog table readable.
func pPrompt() Param { return Param{Name: "prompt", Type: "string", Required: true} }
func pEnum(name string, vals ...string) Param {
	return Param{Name: name, Type: "string", Values: vals}
}
func pInt(name, rng string, vals ...string) Param {
	return Param{Name: name, Type: "integer", Range: rng, Values: vals}
}
func pNum(name, rng string) Param { return Param{Name: name, Type: "number", Range: rng} }
func pBool(name string) Param {
	return Param{Name: name, Type: "boolean", Values: []string{"true", "false"}}
}
func pStr(name string) Param              { return Param{Name: name, Type: "string"} }
func pURL(name string) Param              { return Param{Name: name, Type: "url"} }
func pURLs(name, rng string) Param        { return Param{Name: name, Type: "urls", Range: rng} }
func required(p Param) Param              { p.Required = true; return p }
func withDefault(p Param, d string) Param { p.Default = d; return p }
func noted(p Param, n string) Param       { p.Note = n; return p }

var soulAspect = []string{"1:1", "4:3", "3:4", "3:2", "2:3", "5:4", "4:5", "16:9", "9:16", "21:9"}

func soulRef(id string, extra ...Param) Model {
	return Model{ID: id, Kind: "image", Task: "text-to-image", Source: "openapi", Params: append([]Param{
		pPrompt(), pStr("style_id"), pInt("batch_size", "", "1", "4"), pEnum("resolution", "720p", "1080p"),
		pEnum("aspect_ratio", soulAspect...), pBool("enhance_prompt"), pNum("style_strength", "0–1"), pInt("seed", "1–1000000"),
	}, extra...)}
}

func dop(id string) Model {
	return Model{ID: id, Kind: "video", Task: "image-to-video", Source: "openapi", Params: []Param{
		pPrompt(), required(pURL("image_url")), pURL("end_image_url"),
		noted(Param{Name: "motions", Type: "array", Range: "≤2"}, "motion presets"), withDefault(pBool("enhance_prompt"), "true"), pInt("seed", ""),
	}}
}

func veo(id, task string, extra ...Param) Model {
	return Model{ID: id, Kind: "video", Task: task, Source: "openapi", Params: append([]Param{
		pPrompt(), noted(pEnum("duration", "4", "6", "8"), "a string"), required(pEnum("resolution", "720", "1080")),
		required(pEnum("aspect_ratio", "16:9", "9:16")), required(pBool("generate_audio")),
	}, extra...)}
}

func seedanceV1(id, task string, extra ...Param) Model {
	return Model{ID: id, Kind: "video", Task: task, Source: "openapi", Params: append([]Param{
		pPrompt(), withDefault(pInt("duration", "2–12"), "5"), pEnum("resolution", "480", "720", "1080"),
		noted(pEnum("aspect_ratio", "16:9", "9:16", "1:1", "4:3", "3:4", "21:9"), "includes 21:9"), pBool("camera_fixed"),
	}, extra...)}
}

func kling(id, task, source string, extra ...Param) Model {
	return Model{ID: id, Kind: "video", Task: task, Source: source, Params: append([]Param{
		pPrompt(), withDefault(pInt("duration", "", "5", "10"), "5"), withDefault(pNum("cfg_scale", "0–1"), "0.5"), pStr("negative_prompt"),
	}, extra...)}
}

func hailuo(id, task string, extra ...Param) Model {
	return Model{ID: id, Kind: "video", Task: task, Source: "openapi", Params: append([]Param{
		pPrompt(), pInt("duration", "", "6", "10"), pEnum("resolution", "512P", "768P"), pBool("prompt_optimizer"),
	}, extra...)}
}

func sora(id, task string, pro bool, extra ...Param) Model {
	res := pEnum("resolution", "720p")
	if pro {
		res = pEnum("resolution", "720p", "1080p")
	}
	return Model{ID: id, Kind: "video", Task: task, Source: "openapi", Params: append([]Param{
		pPrompt(), pInt("duration", "", "4", "8", "12"), res, pEnum("aspect_ratio", "16:9", "9:16"),
	}, extra...)}
}

func seedance25(id, task string, extra ...Param) Model {
	return Model{ID: id, Kind: "video", Task: task, Source: "docs", Note: "parameters from third-party notes", Params: append([]Param{
		pPrompt(), pStr("resolution"), pInt("duration", ""), pBool("generate_audio"), pStr("aspect_ratio"),
	}, extra...)}
}

func reve(id, task string, extra ...Param) Model {
	return Model{ID: id, Kind: "image", Task: task, Source: "openapi", Params: append([]Param{pPrompt(), pInt("num_images", "")}, extra...)}
}

// Catalog returns the built-in model catalog, from the reference's tables
// (CatalogDate). It is a guide, not a gate: the API is the judge of which
// models and parameters an account may use. It is built on first use, so
// that commands that never look at it do not pay for it at start-up.
func Catalog() []Model { return catalog() }

var catalog = sync.OnceValue(func() []Model {
	return []Model{
		// Current model pages (api.higgsfield.ai).
		{ID: "higgsfield-ai/soul/v2/standard", Kind: "image", Task: "text-to-image", Source: "docs", Note: "the quickstart's default", Params: []Param{
			pPrompt(), noted(pEnum("aspect_ratio", soulAspect...), "docs example 3:4"), pEnum("resolution", "720p", "1080p"), pBool("enhance_prompt"),
			pInt("batch_size", "", "1", "4"), pInt("seed", ""), pStr("custom_reference_id"), pNum("custom_reference_strength", ""),
			noted(pNum("style_strength", ""), "accepted but has no effect (third-party)"),
		}},
		{ID: "higgsfield-ai/soul/standard", Kind: "image", Task: "text-to-image", Source: "docs", Params: []Param{
			pPrompt(), withDefault(pEnum("aspect_ratio", soulAspect...), "4:3"), noted(pEnum("resolution", "720p", "1080p"), `the older OpenAPI says "2K"/"4K"; the current docs win`),
			pBool("enhance_prompt"), pInt("batch_size", "", "1", "4"), noted(pInt("num_images", "1–4"), "older OpenAPI"),
		}},
		{ID: "higgsfield-ai/soul/cinema", Kind: "image", Task: "text-to-image", Source: "docs", Note: "may be absent from model discovery; the id works directly", Params: []Param{
			pPrompt(), pInt("batch_size", "", "1", "4"), withDefault(pEnum("aspect_ratio", soulAspect...), "1:1"), withDefault(pBool("enhance_prompt"), "false"),
			noted(pInt("seed", "1–1000000"), "random when absent; null is invalid"), noted(pStr("custom_reference_id"), "a trained reference of the same account"),
			noted(pStr("style_id"), "ignored"),
		}},
		{ID: "kling-video/v3.0-turbo/image-to-video", Kind: "video", Task: "image-to-video", Source: "docs", Params: []Param{
			pPrompt(), required(pURL("image_url")), pInt("duration", "3–15"), pEnum("resolution", "720p", "1080p"),
		}},
		{ID: "kling-video/v3.0-turbo/text-to-video", Kind: "video", Task: "text-to-video", Source: "docs", Note: "id from the turbo-text-to-video page", Params: []Param{
			pPrompt(), pInt("duration", "3–15"), pEnum("resolution", "720p", "1080p"),
		}},
		kling("kling-video/v2.5-turbo/pro/image-to-video", "image-to-video", "docs", required(pURL("image_url"))),
		{ID: "kling-video/o3/first-last-frame", Kind: "video", Task: "first-last-frame-to-video", Source: "docs", Note: "the schema requires nothing, but the API asks for first_frame_url (third-party)", Params: []Param{
			pStr("prompt"), required(pURL("first_frame_url")), pURL("last_frame_url"),
		}},
		seedance25("bytedance/seedance-2.5/text-to-video", "text-to-video"),
		seedance25("bytedance/seedance-2.5/image-to-video", "image-to-video", required(pURL("image_url")), pURL("end_image_url")),
		seedance25("bytedance/seedance-2.5/reference-to-video", "reference-to-video", pURLs("image_urls", ""), pURLs("video_urls", ""), pURLs("audio_urls", "")),
		{ID: "marketing-studio/image", Kind: "image", Task: "text-to-image", Source: "docs", Note: "presets: GET /marketing-studio/image/presets; parameters from third-party notes", Params: []Param{
			pPrompt(), pStr("aspect_ratio"), pEnum("resolution", "1k", "2k", "4k"), pEnum("quality", "low", "medium", "high"),
			pURLs("image_urls", ""), pBool("enhance_prompt"), pStr("preset_id"),
		}},
		{ID: "higgsfiled/genjutsu/motion-transfer/v1.0", Kind: "video", Task: "video-to-video", Source: "docs", Note: `the id is spelled "higgsfiled"`, Params: []Param{
			pPrompt(), required(noted(pURL("video_url"), "at least 4 s long")), pURLs("image_urls", ""), pEnum("resolution", "480p", "720p"),
		}},
		{ID: "bytedance/seedream/v4/text-to-image", Kind: "image", Task: "text-to-image", Source: "docs", Params: []Param{
			pPrompt(), noted(pStr("resolution"), `e.g. "2K"`), noted(pStr("aspect_ratio"), `e.g. "16:9"`), pBool("camera_fixed"),
		}},
		{ID: "flux-pro/kontext/max/text-to-image", Kind: "image", Task: "text-to-image", Source: "docs", Params: []Param{
			pPrompt(), pStr("aspect_ratio"), withDefault(pInt("safety_tolerance", "0–6"), "6"), pInt("seed", ""),
		}},

		// The older catalog (OpenAPI copy), for models the current pages do not cover.
		soulRef("higgsfield-ai/soul/reference", required(pURL("image_reference_url"))),
		soulRef("higgsfield-ai/soul/character", pURL("image_reference_url"), required(pStr("custom_reference_id")), required(pNum("custom_reference_strength", ""))),
		dop("higgsfield-ai/dop/lite"),
		dop("higgsfield-ai/dop/turbo"),
		dop("higgsfield-ai/dop/standard"),
		{ID: "higgsfield-ai/popcorn/auto", Kind: "image", Task: "text-to-image", Source: "openapi", Params: []Param{
			pPrompt(), pURLs("image_urls", "≤8"), pInt("num_images", "1–8"), pEnum("resolution", "720p", "1600p"), pStr("aspect_ratio"),
		}},
		veo("veo3.1", "text-to-video"),
		veo("veo3.1/fast", "text-to-video"),
		veo("veo3.1/image-to-video", "image-to-video", required(pURL("image_url"))),
		veo("veo3.1/fast/image-to-video", "image-to-video", required(pURL("image_url"))),
		veo("veo3.1/first-last-frame-to-video", "first-last-frame-to-video", required(pURL("first_frame_url")), required(pURL("last_frame_url"))),
		veo("veo3.1/fast/first-last-frame-to-video", "first-last-frame-to-video", required(pURL("first_frame_url")), required(pURL("last_frame_url"))),
		veo("veo3.1/reference-to-video", "reference-to-video", required(pURLs("image_urls", "≤3"))),
		seedanceV1("bytedance/seedance/v1/lite/text-to-video", "text-to-video"),
		seedanceV1("bytedance/seedance/v1/lite/image-to-video", "image-to-video", required(pURL("image_url"))),
		seedanceV1("bytedance/seedance/v1/pro/fast/text-to-video", "text-to-video"),
		seedanceV1("bytedance/seedance/v1/pro/fast/image-to-video", "image-to-video", required(pURL("image_url"))),
		kling("kling-video/v2.1/master/image-to-video", "image-to-video", "openapi", required(pURL("image_url"))),
		kling("kling-video/v2.1/pro/image-to-video", "image-to-video", "openapi", required(pURL("image_url"))),
		kling("kling-video/v2.1/standard/image-to-video", "image-to-video", "openapi", required(pURL("image_url"))),
		kling("kling-video/v2.1/master/text-to-video", "text-to-video", "openapi", pStr("aspect_ratio")),
		kling("kling-video/v2.5-turbo/standard/image-to-video", "image-to-video", "openapi", required(pURL("image_url"))),
		kling("kling-video/v2.5-turbo/pro/text-to-video", "text-to-video", "openapi"),
		hailuo("minimax/hailuo-02/pro/text-to-video", "text-to-video"),
		hailuo("minimax/hailuo-02/pro/image-to-video", "image-to-video", required(pURL("image_url")), pURL("end_image_url")),
		hailuo("minimax/hailuo-02/standard/text-to-video", "text-to-video"),
		hailuo("minimax/hailuo-02/standard/image-to-video", "image-to-video", required(pURL("image_url")), pURL("end_image_url")),
		hailuo("minimax/hailuo-2.3/pro/image-to-video", "image-to-video", required(pURL("image_url")), pURL("end_image_url")),
		hailuo("minimax/hailuo-2.3/standard/image-to-video", "image-to-video", required(pURL("image_url")), pURL("end_image_url")),
		hailuo("minimax/hailuo-2.3-fast/pro/image-to-video", "image-to-video", required(pURL("image_url")), pURL("end_image_url")),
		hailuo("minimax/hailuo-2.3-fast/standard/image-to-video", "image-to-video", required(pURL("image_url")), pURL("end_image_url")),
		sora("sora-2/text-to-video", "text-to-video", false),
		sora("sora-2/image-to-video", "image-to-video", false, pURL("image_url")),
		sora("sora-2/text-to-video/pro", "text-to-video", true),
		sora("sora-2/image-to-video/pro", "image-to-video", true, pURL("image_url")),
		{ID: "wan-25-preview/text-to-video", Kind: "video", Task: "text-to-video", Source: "openapi", Params: []Param{
			pPrompt(), pInt("duration", "", "5", "10"), pEnum("resolution", "480p", "720p", "1080p"), pInt("seed", "−1–1000000"), pURL("audio_url"), pStr("negative_prompt"),
		}},
		{ID: "wan-25-preview/image-to-video", Kind: "video", Task: "image-to-video", Source: "openapi", Params: []Param{
			pPrompt(), required(pURL("image_url")), pInt("duration", "", "5", "10"), pEnum("resolution", "480p", "720p", "1080p"), pInt("seed", "−1–1000000"), pURL("audio_url"), pStr("negative_prompt"),
		}},
		{ID: "nano-banana", Kind: "image", Task: "text-to-image", Source: "openapi", Params: []Param{
			pPrompt(), pInt("num_images", "1–4"), noted(pEnum("aspect_ratio", "auto", "1:1", "4:3", "3:4", "3:2", "2:3", "16:9", "9:16", "21:9"), `includes "auto"`),
			pURLs("input_images", "≤8"), pEnum("output_format", "jpeg", "png"),
		}},
		reve("reve/text-to-image", "text-to-image"),
		reve("reve/edit", "image-edit", required(pURL("image_url"))),
		reve("reve/remix", "image-remix", required(pURLs("image_urls", "≤4"))),
		reve("reve/fast/edit", "image-edit", required(pURL("image_url"))),
		reve("reve/fast/remix", "image-remix", required(pURLs("image_urls", "≤4"))),
	}
})

// CatalogModel returns the built-in entry of a model id.
func CatalogModel(id string) (Model, bool) {
	c := catalog()
	i := slices.IndexFunc(c, func(m Model) bool { return m.ID == id })
	if i < 0 {
		return Model{}, false
	}
	return c[i], true
}

// ErrNoModelListing means the API does not answer GET /models (it is not
// documented); callers fall back to the Catalog.
var ErrNoModelListing = errors.New("the API has no model listing")

// maxListed bounds the models accepted from one listing.
const maxListed = 5000

// Models asks the API for the models this account can use (GET /models, an
// undocumented endpoint). The entries' shape is unknown, so the answer is
// read generously: an array, or an object with models, data or items; each
// entry a string id or an object with id (or endpoint, endpoint_id,
// model_id, path, name) and optionally type/kind/category/output_type. A
// 404, 405 or 501 is ErrNoModelListing.
func (c *Client) Models(ctx context.Context) ([]Model, error) {
	u := c.base.JoinPath("models").String()
	data, err := c.call(ctx, "models", http.MethodGet, u, nil)
	switch StatusCodeOf(err) {
	case 0:
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return nil, ErrNoModelListing
	}
	if err != nil {
		return nil, err
	}
	return parseModels(data)
}

func parseModels(data []byte) ([]Model, error) {
	var raw json.RawMessage = data
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) == nil {
		raw = nil
		for _, k := range []string{"models", "data", "items", "results"} {
			if v, ok := obj[k]; ok {
				raw = v
				break
			}
		}
		if raw == nil {
			return nil, fmt.Errorf("model listing: no models, data or items in %q", oneLine(string(data), 80))
		}
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("model listing: want a list, got %q", oneLine(string(raw), 80))
	}
	if len(entries) > maxListed {
		entries = entries[:maxListed]
	}
	out := make([]Model, 0, len(entries))
	seen := map[string]bool{}
	for _, e := range entries {
		m, ok := parseModel(e)
		if !ok || seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		out = append(out, m)
	}
	if len(out) == 0 && len(entries) > 0 {
		return nil, errors.New("model listing: no entry has a usable id")
	}
	return out, nil
}

func parseModel(raw json.RawMessage) (Model, bool) {
	var id string
	if json.Unmarshal(raw, &id) == nil {
		return listed(id, "")
	}
	var obj map[string]any
	if json.Unmarshal(raw, &obj) != nil {
		return Model{}, false
	}
	str := func(keys ...string) string {
		for _, k := range keys {
			if s, ok := obj[k].(string); ok && s != "" {
				return s
			}
		}
		return ""
	}
	return listed(str("id", "endpoint", "endpoint_id", "model_id", "path", "name"), str("type", "kind", "category", "output_type", "output"))
}

// listed builds a Model from a listing entry, completing it from the
// catalog when the id is known there.
func listed(id, kind string) (Model, bool) {
	id = strings.Trim(strings.TrimSpace(id), "/")
	if ValidModel(id) != nil {
		return Model{}, false
	}
	m, ok := CatalogModel(id)
	if !ok {
		m = Model{ID: id}
	}
	m.Source = "api"
	if k := normalizeKind(kind); k != "" {
		m.Kind = k
	}
	return m, true
}

func normalizeKind(k string) string {
	k = strings.ToLower(k)
	switch {
	case strings.Contains(k, "video"):
		return "video"
	case strings.Contains(k, "image"):
		return "image"
	case strings.Contains(k, "audio"), strings.Contains(k, "speech"), strings.Contains(k, "music"):
		return "audio"
	}
	return ""
}
