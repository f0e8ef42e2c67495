package agent

import "github.com/edged-dev/edged/agent/deploy"

// The command states and store files the deploy tests check.
const (
	statusActive      = deploy.StatusActive
	statusCanary      = deploy.StatusCanary
	statusDownloading = deploy.StatusDownloading
	statusRestarting  = deploy.StatusRestarting
	statusRolledBack  = deploy.StatusRolledBack
	statusShadow      = deploy.StatusShadow
	statusVerified    = deploy.StatusVerified
	fileModel         = deploy.FileModel
)
