package higgsfield

import (
	"reflect"
	"testing"
)

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		status   string
		errMsg   string
		outputs  []string
		terminal bool
		wantErr  bool
	}{
		{name: "queued", body: `{"status":"queued","request_id":"a"}`, status: "queued"},
		{name: "unknown status is not terminal", body: `{"status":"warming_up","request_id":"a"}`, status: "warming_up"},
		{name: "british spelling", body: `{"status":"cancelled","request_id":"a"}`, status: "canceled", terminal: true},
		{name: "images", body: `{"status":"completed","request_id":"a","images":[{"url":"u1"},{"url":"u2"}]}`,
			status: "completed", terminal: true, outputs: []string{"images[0]=u1", "images[1]=u2"}},
		{name: "video and extras", body: `{"status":"completed","video":{"url":"v"},"zip":{"url":"z"},"audios":[{"url":"a1"}],"meta":{"x":1}}`,
			status: "completed", terminal: true, outputs: []string{"video=v", "audios[0]=a1", "zip=z"}},
		{name: "failed with object error", body: `{"status":"failed","error":{"message":"boom"}}`, status: "failed", errMsg: "boom", terminal: true},
		{name: "nsfw", body: `{"status":"NSFW"}`, status: "nsfw", terminal: true},
		{name: "no status", body: `{"request_id":"a"}`, wantErr: true},
		{name: "not json", body: `<html>`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := ParseStatus([]byte(tt.body))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want error, got %+v", st)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Status != tt.status || st.Error != tt.errMsg || st.Terminal() != tt.terminal {
				t.Fatalf("got status=%q error=%q terminal=%v", st.Status, st.Error, st.Terminal())
			}
			var got []string
			for _, o := range st.Outputs {
				got = append(got, o.Field+"="+o.URL)
			}
			if !reflect.DeepEqual(got, tt.outputs) {
				t.Fatalf("outputs = %v, want %v", got, tt.outputs)
			}
		})
	}
}

func TestParseStatusBoundsOutputs(t *testing.T) {
	body := `{"status":"completed","images":[`
	for i := 0; i < 500; i++ {
		if i > 0 {
			body += ","
		}
		body += `{"url":"u"}`
	}
	body += "]}"
	st, err := ParseStatus([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Outputs) != MaxOutputs {
		t.Fatalf("got %d outputs, want the cap %d", len(st.Outputs), MaxOutputs)
	}
	if st.DroppedOutputs != 500-MaxOutputs {
		t.Fatalf("DroppedOutputs = %d, want %d", st.DroppedOutputs, 500-MaxOutputs)
	}
}
