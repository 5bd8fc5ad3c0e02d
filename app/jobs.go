package app

import (
	"log/slog"

	"github.com/technifold/technifold/store"
)

// registerJobs fills the server's job registry.
func (s *Server) registerJobs() { registerJobHandlers(s.jobs, s.cfg, s.db, s.logger) }

// registerJobHandlers maps every job type to its handler. Handlers of integrations that are not
// configured are still registered and fail loudly, naming what to set.
func registerJobHandlers(reg *Registry, cfg *Config, db *store.DB, logger *slog.Logger) {
	reg.Register(JobSendOfferEmail, newOfferMailer(cfg, db, logger).handle)
	zoho := NewZohoSync(cfg, db, logger)
	reg.Register(JobZohoSyncOrder, zoho.SyncOrder)
	reg.Register(JobZohoSyncRefund, zoho.SyncRefund)
}
