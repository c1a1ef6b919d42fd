CREATE TABLE `telemetry_history` (
	`tier` text NOT NULL,
	`at` integer NOT NULL,
	`sample` text NOT NULL,
	PRIMARY KEY(`tier`, `at`)
);
