CREATE TABLE `task_deps` (
	`task_id` integer NOT NULL,
	`dep_id` integer NOT NULL,
	`type` text NOT NULL,
	PRIMARY KEY(`task_id`, `dep_id`, `type`),
	FOREIGN KEY (`task_id`) REFERENCES `tasks`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `task_deps_dep` ON `task_deps` (`dep_id`);--> statement-breakpoint
ALTER TABLE `tasks` ADD `blocked` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `tasks` ADD `depends_mode` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `cause` integer;--> statement-breakpoint
ALTER TABLE `tasks` ADD `array_id` integer;--> statement-breakpoint
ALTER TABLE `tasks` ADD `array_index` integer;--> statement-breakpoint
ALTER TABLE `tasks` ADD `throttle` integer;--> statement-breakpoint
ALTER TABLE `tasks` ADD `seq` real;--> statement-breakpoint
CREATE INDEX `tasks_array` ON `tasks` (`array_id`,`id`) WHERE array_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX `tasks_cause` ON `tasks` (`cause`) WHERE cause IS NOT NULL;--> statement-breakpoint
CREATE INDEX `tasks_blocked` ON `tasks` (`id`) WHERE blocked = 1;