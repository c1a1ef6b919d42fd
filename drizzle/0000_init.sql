CREATE TABLE `artifacts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`task_id` integer NOT NULL,
	`attempt` integer NOT NULL,
	`name` text NOT NULL,
	`path` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`task_id`) REFERENCES `tasks`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `artifacts_task_path` ON `artifacts` (`task_id`,`path`);--> statement-breakpoint
CREATE TABLE `attempts` (
	`task_id` integer NOT NULL,
	`number` integer NOT NULL,
	`outcome` text NOT NULL,
	`started_at` integer NOT NULL,
	`ended_at` integer,
	`exit_code` integer,
	`signal` text,
	`reason` text,
	`pid` integer,
	`pid_start_time` text,
	`pgid` integer,
	`gpus` text DEFAULT '[]' NOT NULL,
	`log_dir` text,
	FOREIGN KEY (`task_id`) REFERENCES `tasks`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `attempts_task_number` ON `attempts` (`task_id`,`number`);--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `task_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`task_id` integer NOT NULL,
	`attempt` integer,
	`at` integer NOT NULL,
	`type` text NOT NULL,
	`data` text,
	FOREIGN KEY (`task_id`) REFERENCES `tasks`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `task_events_task` ON `task_events` (`task_id`,`id`);--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`agent` text NOT NULL,
	`name` text,
	`state` text NOT NULL,
	`desired` text DEFAULT 'run' NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`input` text NOT NULL,
	`cpu` real NOT NULL,
	`memory_mb` integer NOT NULL,
	`gpu_count` integer DEFAULT 0 NOT NULL,
	`vram_mb` integer DEFAULT 0 NOT NULL,
	`request_pinned` integer DEFAULT 0 NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer NOT NULL,
	`backoff_sec` real NOT NULL,
	`timeout_sec` integer,
	`progress` real,
	`progress_message` text,
	`result` text,
	`error` text,
	`not_before` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `tasks_queue` ON `tasks` (`state`,`priority`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_agent` ON `tasks` (`agent`,`id`);