CREATE TABLE `api_tokens` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`hash` text NOT NULL,
	`prefix` text NOT NULL,
	`project` text NOT NULL,
	`label` text,
	`created_at` integer NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_hash` ON `api_tokens` (`hash`);--> statement-breakpoint
CREATE TABLE `projects` (
	`name` text PRIMARY KEY NOT NULL,
	`weight` real DEFAULT 1 NOT NULL,
	`max_running` integer,
	`max_vram_mb` integer,
	`max_queued` integer,
	`usage` real DEFAULT 0 NOT NULL,
	`usage_at` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE `tasks` ADD `project` text DEFAULT 'default' NOT NULL;--> statement-breakpoint
CREATE INDEX `tasks_project` ON `tasks` (`project`,`state`,`id`);