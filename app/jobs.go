package app

import (
	"log/slog"

	"github.com/technifold/technifold/store"
)

// registerJobs fills the server's job registry.
func (s *Server) registerJobs() error { return registerJobHandlers(s.jobs, s.cfg, s.db, s.logger) }

// registerJobHandlers maps every declared job kind (store.JobKinds) to its handler, each filed
// under its payload type's kind. Handlers of integrations that are not configured are still
// registered and fail loudly, naming what to set. It fails when a declared kind has none.
func registerJobHandlers(reg *Registry, cfg *Config, db *store.DB, logger *slog.Logger) error {
	registerJob(reg, newOfferMailer(cfg, db, logger).sendJob)
	zoho := NewZohoSync(cfg, db, logger)
	registerJob(reg, zoho.syncOrderJob)
	registerJob(reg, zoho.syncRefundJob)
	reg.addMetrics(zoho.authFailures)
	return reg.CheckDeclared()
}
