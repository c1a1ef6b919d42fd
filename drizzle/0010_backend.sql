ALTER TABLE `tasks` ADD `backend` text DEFAULT 'local' NOT NULL;--> statement-breakpoint
ALTER TABLE `tasks` ADD `remote_job` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `remote_where` text;