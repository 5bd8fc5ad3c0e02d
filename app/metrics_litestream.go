package app

import (
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// litestreamRenames are the embedded Litestream's own metric names that fail Prometheus'
// naming rules (counters without _total or with _count, a gauge named _total), and the names
// /metrics exposes them under instead. The library registers them on the default registry;
// litestreamMetrics renames them as they are gathered, so nothing is forked.
var litestreamRenames = map[string]string{
	"litestream_total_wal_bytes":               "litestream_wal_bytes_total",
	"litestream_sync_count":                    "litestream_sync_total",
	"litestream_sync_error_count":              "litestream_sync_errors_total",
	"litestream_sync_seconds":                  "litestream_sync_seconds_total",
	"litestream_checkpoint_count":              "litestream_checkpoint_total",
	"litestream_checkpoint_error_count":        "litestream_checkpoint_errors_total",
	"litestream_checkpoint_seconds":            "litestream_checkpoint_seconds_total",
	"litestream_compaction_verify_error_count": "litestream_compaction_verify_errors_total",
	"litestream_replica_operation_bytes":       "litestream_replica_operation_bytes_total",
	"litestream_l0_retention_files_total":      "litestream_l0_retention_files",
}

// litestreamMetrics serves, from a gatherer (the global registry, where the Litestream library
// registers its metrics), only the litestream_* families, under names that pass `promtool check
// metrics`: the table above, and for names a later Litestream adds, the same rule (a counter
// ends in _total and not _count; nothing else ends in _total). Everything else technifold
// exports lives on the server's own registry.
func litestreamMetrics(g prometheus.Gatherer) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		all, err := g.Gather()
		var mfs []*dto.MetricFamily
		for _, mf := range all {
			if !strings.HasPrefix(mf.GetName(), "litestream_") {
				continue
			}
			if n := compliantLitestreamName(mf.GetName(), mf.GetType()); n != mf.GetName() {
				mf.Name = &n
			}
			mfs = append(mfs, mf)
		}
		sort.Slice(mfs, func(i, j int) bool { return mfs[i].GetName() < mfs[j].GetName() })
		return mfs, err
	})
}

func compliantLitestreamName(name string, typ dto.MetricType) string {
	if !strings.HasPrefix(name, "litestream_") {
		return name
	}
	if n, ok := litestreamRenames[name]; ok {
		return n
	}
	switch typ {
	case dto.MetricType_COUNTER:
		if strings.HasSuffix(name, "_total") {
			return name
		}
		if base, ok := strings.CutSuffix(name, "_count"); ok {
			return base + "_total"
		}
		return name + "_total"
	case dto.MetricType_GAUGE, dto.MetricType_UNTYPED:
		if base, ok := strings.CutSuffix(name, "_total"); ok {
			return base
		}
	}
	return name
}
