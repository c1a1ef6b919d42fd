ALTER TABLE `attempts` ADD `peak_vram_mb` integer;--> statement-breakpoint
ALTER TABLE `attempts` ADD `peak_memory_mb` integer;--> statement-breakpoint
ALTER TABLE `attempts` ADD `peak_cpu` real;