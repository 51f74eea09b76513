-- glance-manage db sync --sql: sqlite statements
-- Starting revision(s): none (an empty database). Nothing was connected to.
-- Revisions to apply (29): liberty mitaka01 mitaka02 ocata_expand01 pike_expand01 queens_expand01 rocky_expand01 rocky_expand02 train_expand01 ussuri_expand01 wallaby_expand01 xena_expand01 yoga_expand01 zed_expand01 2023_1_expand01 2024_1_expand01 ocata_contract01 pike_contract01 queens_contract01 rocky_contract01 rocky_contract02 train_contract01 ussuri_contract01 wallaby_contract01 xena_contract01 yoga_contract01 zed_contract01 2023_1_contract01 2024_1_contract01
-- Resulting revision(s): 2024_1_contract01

-- Running upgrade  -> liberty, liberty initial [liberty]
BEGIN;

CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

CREATE TABLE images (
	id VARCHAR(36) NOT NULL, 
	name VARCHAR(255), 
	size INTEGER, 
	status VARCHAR(30) NOT NULL, 
	is_public BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	deleted_at DATETIME, 
	deleted BOOLEAN NOT NULL, 
	disk_format VARCHAR(20), 
	container_format VARCHAR(20), 
	checksum VARCHAR(32), 
	owner VARCHAR(255), 
	min_disk INTEGER NOT NULL, 
	min_ram INTEGER NOT NULL, 
	protected BOOLEAN DEFAULT 0 NOT NULL, 
	virtual_size INTEGER, 
	PRIMARY KEY (id), 
	CHECK (is_public IN (0, 1)), 
	CHECK (deleted IN (0, 1)), 
	CHECK (protected IN (0, 1))
);

CREATE INDEX checksum_image_idx ON images (checksum);

CREATE INDEX ix_images_deleted ON images (deleted);

CREATE INDEX ix_images_is_public ON images (is_public);

CREATE INDEX owner_image_idx ON images (owner);

CREATE TABLE image_properties (
	id INTEGER NOT NULL, 
	image_id VARCHAR(36) NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	value TEXT, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	deleted_at DATETIME, 
	deleted BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(image_id) REFERENCES images (id), 
	CONSTRAINT ix_image_properties_image_id_name UNIQUE (image_id, name), 
	CHECK (deleted IN (0, 1))
);

CREATE INDEX ix_image_properties_deleted ON image_properties (deleted);

CREATE INDEX ix_image_properties_image_id ON image_properties (image_id);

CREATE TABLE image_locations (
	id INTEGER NOT NULL, 
	image_id VARCHAR(36) NOT NULL, 
	value TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	deleted_at DATETIME, 
	deleted BOOLEAN NOT NULL, 
	meta_data TEXT, 
	status VARCHAR(30) DEFAULT 'active' NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(image_id) REFERENCES images (id), 
	CHECK (deleted IN (0, 1))
);

CREATE INDEX ix_image_locations_deleted ON image_locations (deleted);

CREATE INDEX ix_image_locations_image_id ON image_locations (image_id);

CREATE TABLE image_members (
	id INTEGER NOT NULL, 
	image_id VARCHAR(36) NOT NULL, 
	member VARCHAR(255) NOT NULL, 
	can_share BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	deleted_at DATETIME, 
	deleted BOOLEAN NOT NULL, 
	status VARCHAR(20) DEFAULT 'pending' NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(image_id) REFERENCES images (id), 
	CONSTRAINT image_members_image_id_member_deleted_at_key UNIQUE (image_id, member, deleted_at), 
	CHECK (can_share IN (0, 1)), 
	CHECK (deleted IN (0, 1))
);

CREATE INDEX ix_image_members_deleted ON image_members (deleted);

CREATE INDEX ix_image_members_image_id ON image_members (image_id);

CREATE INDEX ix_image_members_image_id_member ON image_members (image_id, member);

CREATE TABLE image_tags (
	id INTEGER NOT NULL, 
	image_id VARCHAR(36) NOT NULL, 
	value VARCHAR(255) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	deleted_at DATETIME, 
	deleted BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(image_id) REFERENCES images (id), 
	CHECK (deleted IN (0, 1))
);

CREATE INDEX ix_image_tags_image_id ON image_tags (image_id);

CREATE INDEX ix_image_tags_image_id_tag_value ON image_tags (image_id, value);

CREATE TABLE tasks (
	id VARCHAR(36) NOT NULL, 
	type VARCHAR(30) NOT NULL, 
	status VARCHAR(30) NOT NULL, 
	owner VARCHAR(255) NOT NULL, 
	expires_at DATETIME, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	deleted_at DATETIME, 
	deleted BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	CHECK (deleted IN (0, 1))
);

CREATE INDEX ix_tasks_deleted ON tasks (deleted);

CREATE INDEX ix_tasks_owner ON tasks (owner);

CREATE INDEX ix_tasks_status ON tasks (status);

CREATE INDEX ix_tasks_type ON tasks (type);

CREATE INDEX ix_tasks_updated_at ON tasks (updated_at);

CREATE TABLE task_info (
	task_id VARCHAR(36) NOT NULL, 
	input TEXT, 
	result TEXT, 
	message TEXT, 
	PRIMARY KEY (task_id), 
	FOREIGN KEY(task_id) REFERENCES tasks (id)
);

CREATE TABLE metadef_namespaces (
	id INTEGER NOT NULL, 
	namespace VARCHAR(80) NOT NULL, 
	display_name VARCHAR(80), 
	description TEXT, 
	visibility VARCHAR(32), 
	protected BOOLEAN, 
	owner VARCHAR(255) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_metadef_namespaces_namespace UNIQUE (namespace), 
	CHECK (protected IN (0, 1))
);

CREATE INDEX ix_metadef_namespaces_owner ON metadef_namespaces (owner);

CREATE TABLE metadef_resource_types (
	id INTEGER NOT NULL, 
	name VARCHAR(80) NOT NULL, 
	protected BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_metadef_resource_types_name UNIQUE (name), 
	CHECK (protected IN (0, 1))
);

CREATE TABLE metadef_namespace_resource_types (
	resource_type_id INTEGER NOT NULL, 
	namespace_id INTEGER NOT NULL, 
	properties_target VARCHAR(80), 
	prefix VARCHAR(80), 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	PRIMARY KEY (resource_type_id, namespace_id), 
	FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id), 
	FOREIGN KEY(resource_type_id) REFERENCES metadef_resource_types (id)
);

CREATE INDEX ix_metadef_ns_res_types_namespace_id ON metadef_namespace_resource_types (namespace_id);

CREATE TABLE metadef_objects (
	id INTEGER NOT NULL, 
	namespace_id INTEGER NOT NULL, 
	name VARCHAR(80) NOT NULL, 
	description TEXT, 
	required TEXT, 
	json_schema TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id), 
	CONSTRAINT uq_metadef_objects_namespace_id_name UNIQUE (namespace_id, name)
);

CREATE INDEX ix_metadef_objects_name ON metadef_objects (name);

CREATE TABLE metadef_properties (
	id INTEGER NOT NULL, 
	namespace_id INTEGER NOT NULL, 
	name VARCHAR(80) NOT NULL, 
	json_schema TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id), 
	CONSTRAINT uq_metadef_properties_namespace_id_name UNIQUE (namespace_id, name)
);

CREATE INDEX ix_metadef_properties_name ON metadef_properties (name);

CREATE TABLE metadef_tags (
	id INTEGER NOT NULL, 
	namespace_id INTEGER NOT NULL, 
	name VARCHAR(80) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id), 
	CONSTRAINT uq_metadef_tags_namespace_id_name UNIQUE (namespace_id, name)
);

CREATE INDEX ix_metadef_tags_name ON metadef_tags (name);

CREATE TABLE artifacts (
	id VARCHAR(36) NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	type_name VARCHAR(255) NOT NULL, 
	type_version_prefix BIGINT NOT NULL, 
	type_version_suffix VARCHAR(255), 
	type_version_meta VARCHAR(255), 
	version_prefix BIGINT NOT NULL, 
	version_suffix VARCHAR(255), 
	version_meta VARCHAR(255), 
	description TEXT, 
	visibility VARCHAR(32) NOT NULL, 
	state VARCHAR(32) NOT NULL, 
	owner VARCHAR(255) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	deleted_at DATETIME, 
	published_at DATETIME, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_artifact_name_and_version ON artifacts (name, version_prefix, version_suffix);

CREATE INDEX ix_artifact_owner ON artifacts (owner);

CREATE INDEX ix_artifact_state ON artifacts (state);

CREATE INDEX ix_artifact_type ON artifacts (type_name, type_version_prefix, type_version_suffix);

CREATE INDEX ix_artifact_visibility ON artifacts (visibility);

CREATE TABLE artifact_blobs (
	id VARCHAR(36) NOT NULL, 
	artifact_id VARCHAR(36) NOT NULL, 
	size BIGINT NOT NULL, 
	checksum VARCHAR(32), 
	name VARCHAR(255) NOT NULL, 
	item_key VARCHAR(329), 
	position INTEGER, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(artifact_id) REFERENCES artifacts (id)
);

CREATE INDEX ix_artifact_blobs_artifact_id ON artifact_blobs (artifact_id);

CREATE INDEX ix_artifact_blobs_name ON artifact_blobs (name);

CREATE TABLE artifact_dependencies (
	id VARCHAR(36) NOT NULL, 
	artifact_source VARCHAR(36) NOT NULL, 
	artifact_dest VARCHAR(36) NOT NULL, 
	artifact_origin VARCHAR(36) NOT NULL, 
	is_direct BOOLEAN NOT NULL, 
	position INTEGER, 
	name VARCHAR(36), 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(artifact_dest) REFERENCES artifacts (id), 
	FOREIGN KEY(artifact_origin) REFERENCES artifacts (id), 
	FOREIGN KEY(artifact_source) REFERENCES artifacts (id), 
	CHECK (is_direct IN (0, 1))
);

CREATE INDEX ix_artifact_dependencies_dest_id ON artifact_dependencies (artifact_dest);

CREATE INDEX ix_artifact_dependencies_direct_dependencies ON artifact_dependencies (artifact_source, is_direct);

CREATE INDEX ix_artifact_dependencies_origin_id ON artifact_dependencies (artifact_origin);

CREATE INDEX ix_artifact_dependencies_source_id ON artifact_dependencies (artifact_source);

CREATE TABLE artifact_properties (
	id VARCHAR(36) NOT NULL, 
	artifact_id VARCHAR(36) NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	string_value VARCHAR(255), 
	int_value INTEGER, 
	numeric_value NUMERIC, 
	bool_value BOOLEAN, 
	text_value TEXT, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	position INTEGER, 
	PRIMARY KEY (id), 
	FOREIGN KEY(artifact_id) REFERENCES artifacts (id), 
	CHECK (bool_value IN (0, 1))
);

CREATE INDEX ix_artifact_properties_artifact_id ON artifact_properties (artifact_id);

CREATE INDEX ix_artifact_properties_name ON artifact_properties (name);

CREATE TABLE artifact_tags (
	id VARCHAR(36) NOT NULL, 
	artifact_id VARCHAR(36) NOT NULL, 
	value VARCHAR(255) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(artifact_id) REFERENCES artifacts (id)
);

CREATE INDEX ix_artifact_tags_artifact_id ON artifact_tags (artifact_id);

CREATE INDEX ix_artifact_tags_artifact_id_tag_value ON artifact_tags (artifact_id, value);

CREATE TABLE artifact_blob_locations (
	id VARCHAR(36) NOT NULL, 
	blob_id VARCHAR(36) NOT NULL, 
	value TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	position INTEGER, 
	status VARCHAR(36), 
	PRIMARY KEY (id), 
	FOREIGN KEY(blob_id) REFERENCES artifact_blobs (id)
);

CREATE INDEX ix_artifact_blob_locations_blob_id ON artifact_blob_locations (blob_id);

INSERT INTO alembic_version (version_num) VALUES ('liberty');

COMMIT;

-- Running upgrade liberty -> mitaka01, add index on created_at and updated_at columns of 'images' table [mitaka]
BEGIN;

CREATE INDEX created_at_image_idx ON images (created_at);

CREATE INDEX updated_at_image_idx ON images (updated_at);

UPDATE alembic_version SET version_num='mitaka01' WHERE alembic_version.version_num = 'liberty';

COMMIT;

-- Running upgrade mitaka01 -> mitaka02, update metadef os_nova_server [mitaka]
BEGIN;

UPDATE metadef_resource_types SET name='OS::Nova::Server' WHERE metadef_resource_types.name = 'OS::Nova::Instance';

UPDATE alembic_version SET version_num='mitaka02' WHERE alembic_version.version_num = 'mitaka01';

COMMIT;

-- Running upgrade mitaka02 -> ocata_expand01, add visibility to images [ocata]
BEGIN;

ALTER TABLE images ADD COLUMN visibility VARCHAR(9);

CREATE INDEX visibility_image_idx ON images (visibility);

CREATE TABLE _alembic_tmp_images (
	id VARCHAR(36) NOT NULL, 
	name VARCHAR(255), 
	size INTEGER, 
	status VARCHAR(30) NOT NULL, 
	is_public BOOLEAN, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	deleted_at DATETIME, 
	deleted BOOLEAN NOT NULL, 
	disk_format VARCHAR(20), 
	container_format VARCHAR(20), 
	checksum VARCHAR(32), 
	owner VARCHAR(255), 
	min_disk INTEGER NOT NULL, 
	min_ram INTEGER NOT NULL, 
	protected BOOLEAN DEFAULT 0 NOT NULL, 
	virtual_size INTEGER, 
	visibility VARCHAR(9), 
	PRIMARY KEY (id)
);

INSERT INTO _alembic_tmp_images (id, name, size, status, is_public, created_at, updated_at, deleted_at, deleted, disk_format, container_format, checksum, owner, min_disk, min_ram, protected, virtual_size, visibility) SELECT id, name, size, status, is_public, created_at, updated_at, deleted_at, deleted, disk_format, container_format, checksum, owner, min_disk, min_ram, protected, virtual_size, visibility FROM images;

DROP TABLE images;

ALTER TABLE _alembic_tmp_images RENAME TO images;

CREATE INDEX checksum_image_idx ON images (checksum);

CREATE INDEX ix_images_deleted ON images (deleted);

CREATE INDEX ix_images_is_public ON images (is_public);

CREATE INDEX owner_image_idx ON images (owner);

CREATE INDEX created_at_image_idx ON images (created_at);

CREATE INDEX updated_at_image_idx ON images (updated_at);

CREATE INDEX visibility_image_idx ON images (visibility);

UPDATE alembic_version SET version_num='ocata_expand01' WHERE alembic_version.version_num = 'mitaka02';

COMMIT;

-- Running upgrade ocata_expand01 -> pike_expand01, empty expand for symmetry with pike_contract01 [pike]
BEGIN;

UPDATE alembic_version SET version_num='pike_expand01' WHERE alembic_version.version_num = 'ocata_expand01';

COMMIT;

-- Running upgrade pike_expand01 -> queens_expand01 [queens]
BEGIN;

UPDATE alembic_version SET version_num='queens_expand01' WHERE alembic_version.version_num = 'pike_expand01';

COMMIT;

-- Running upgrade queens_expand01 -> rocky_expand01, add os_hidden column to images table [rocky]
BEGIN;

ALTER TABLE images ADD COLUMN os_hidden BOOLEAN DEFAULT 0 NOT NULL;

CREATE INDEX os_hidden_image_idx ON images (os_hidden);

UPDATE alembic_version SET version_num='rocky_expand01' WHERE alembic_version.version_num = 'queens_expand01';

COMMIT;

-- Running upgrade rocky_expand01 -> rocky_expand02, add os_hash_algo and os_hash_value columns to images table [rocky]
BEGIN;

ALTER TABLE images ADD COLUMN os_hash_algo VARCHAR(64);

ALTER TABLE images ADD COLUMN os_hash_value VARCHAR(128);

CREATE INDEX os_hash_value_image_idx ON images (os_hash_value);

UPDATE alembic_version SET version_num='rocky_expand02' WHERE alembic_version.version_num = 'rocky_expand01';

COMMIT;

-- Running upgrade rocky_expand02 -> train_expand01, empty expand for symmetry with train_contract01 [train]
BEGIN;

UPDATE alembic_version SET version_num='train_expand01' WHERE alembic_version.version_num = 'rocky_expand02';

COMMIT;

-- Running upgrade train_expand01 -> ussuri_expand01, empty expand for symmetry with ussuri_expand01 [ussuri]
BEGIN;

UPDATE alembic_version SET version_num='ussuri_expand01' WHERE alembic_version.version_num = 'train_expand01';

COMMIT;

-- Running upgrade ussuri_expand01 -> wallaby_expand01, add image_id, request_id, user columns to tasks table" [wallaby]
BEGIN;

ALTER TABLE tasks ADD COLUMN image_id VARCHAR(36);

ALTER TABLE tasks ADD COLUMN request_id VARCHAR(64);

ALTER TABLE tasks ADD COLUMN user_id VARCHAR(64);

CREATE INDEX ix_tasks_image_id ON tasks (image_id);

UPDATE alembic_version SET version_num='wallaby_expand01' WHERE alembic_version.version_num = 'ussuri_expand01';

COMMIT;

-- Running upgrade wallaby_expand01 -> xena_expand01, empty expand for symmetry with 2023_1_expand01 [xena]
BEGIN;

UPDATE alembic_version SET version_num='xena_expand01' WHERE alembic_version.version_num = 'wallaby_expand01';

COMMIT;

-- Running upgrade xena_expand01 -> yoga_expand01, empty expand for symmetry with 2023_1_expand01 [yoga]
BEGIN;

UPDATE alembic_version SET version_num='yoga_expand01' WHERE alembic_version.version_num = 'xena_expand01';

COMMIT;

-- Running upgrade yoga_expand01 -> zed_expand01, empty expand for symmetry with 2023_1_expand01 [zed]
BEGIN;

UPDATE alembic_version SET version_num='zed_expand01' WHERE alembic_version.version_num = 'yoga_expand01';

COMMIT;

-- Running upgrade zed_expand01 -> 2023_1_expand01, empty expand for symmetry with 2023_1_expand01 [2023_1]
BEGIN;

UPDATE alembic_version SET version_num='2023_1_expand01' WHERE alembic_version.version_num = 'zed_expand01';

COMMIT;

-- Running upgrade 2023_1_expand01 -> 2024_1_expand01, adds cache_node_reference and cached_images table(s) [2024_1]
BEGIN;

CREATE TABLE node_reference (
	node_reference_id INTEGER NOT NULL, 
	node_reference_url VARCHAR(255) NOT NULL, 
	PRIMARY KEY (node_reference_id), 
	CONSTRAINT uq_node_reference_node_reference_url UNIQUE (node_reference_url)
);

CREATE TABLE cached_images (
	id INTEGER NOT NULL, 
	image_id VARCHAR(36) NOT NULL, 
	last_accessed DATETIME NOT NULL, 
	last_modified DATETIME NOT NULL, 
	size BIGINT NOT NULL, 
	hits INTEGER NOT NULL, 
	checksum VARCHAR(32), 
	node_reference_id INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(node_reference_id) REFERENCES node_reference (node_reference_id), 
	CONSTRAINT ix_cached_images_image_id_node_reference_id UNIQUE (image_id, node_reference_id)
);

UPDATE alembic_version SET version_num='2024_1_expand01' WHERE alembic_version.version_num = '2023_1_expand01';

COMMIT;

-- Data migration ocata_migrate01_community_images (release ocata) must be complete here, before ocata_contract01.
-- This script starts from an empty database, so there are no rows to migrate.

-- Running upgrade mitaka02 -> ocata_contract01, remove is_public from images [ocata]
BEGIN;

-- glance-manage checks here that every image has a visibility: no row of images WHERE visibility IS NULL

DROP TRIGGER IF EXISTS insert_visibility;

DROP TRIGGER IF EXISTS update_visibility;

-- glance-manage checks here that every image has a visibility: no row of images WHERE visibility IS NULL

CREATE TABLE _alembic_tmp_images (
	id VARCHAR(36) NOT NULL, 
	name VARCHAR(255), 
	size INTEGER, 
	status VARCHAR(30) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	deleted_at DATETIME, 
	deleted BOOLEAN NOT NULL, 
	disk_format VARCHAR(20), 
	container_format VARCHAR(20), 
	checksum VARCHAR(32), 
	owner VARCHAR(255), 
	min_disk INTEGER NOT NULL, 
	min_ram INTEGER NOT NULL, 
	protected BOOLEAN DEFAULT 0 NOT NULL, 
	virtual_size INTEGER, 
	visibility VARCHAR(9) DEFAULT 'shared' NOT NULL, 
	os_hidden BOOLEAN DEFAULT 0 NOT NULL, 
	os_hash_algo VARCHAR(64), 
	os_hash_value VARCHAR(128), 
	PRIMARY KEY (id)
);

INSERT INTO _alembic_tmp_images (id, name, size, status, created_at, updated_at, deleted_at, deleted, disk_format, container_format, checksum, owner, min_disk, min_ram, protected, virtual_size, visibility, os_hidden, os_hash_algo, os_hash_value) SELECT id, name, size, status, created_at, updated_at, deleted_at, deleted, disk_format, container_format, checksum, owner, min_disk, min_ram, protected, virtual_size, visibility, os_hidden, os_hash_algo, os_hash_value FROM images;

DROP TABLE images;

ALTER TABLE _alembic_tmp_images RENAME TO images;

CREATE INDEX checksum_image_idx ON images (checksum);

CREATE INDEX ix_images_deleted ON images (deleted);

CREATE INDEX owner_image_idx ON images (owner);

CREATE INDEX os_hidden_image_idx ON images (os_hidden);

CREATE INDEX os_hash_value_image_idx ON images (os_hash_value);

CREATE INDEX created_at_image_idx ON images (created_at);

CREATE INDEX updated_at_image_idx ON images (updated_at);

CREATE INDEX visibility_image_idx ON images (visibility);

INSERT INTO alembic_version (version_num) VALUES ('ocata_contract01');

COMMIT;

-- Running upgrade ocata_contract01 -> pike_contract01, drop glare artifacts tables [pike]
BEGIN;

DROP TABLE artifact_blob_locations;

DROP TABLE artifact_properties;

DROP TABLE artifact_blobs;

DROP TABLE artifact_dependencies;

DROP TABLE artifact_tags;

DROP TABLE artifacts;

UPDATE alembic_version SET version_num='pike_contract01' WHERE alembic_version.version_num = 'ocata_contract01';

COMMIT;

-- Running upgrade pike_contract01 -> queens_contract01 [queens]
BEGIN;

UPDATE alembic_version SET version_num='queens_contract01' WHERE alembic_version.version_num = 'pike_contract01';

COMMIT;

-- Running upgrade queens_contract01 -> rocky_contract01 [rocky]
BEGIN;

UPDATE alembic_version SET version_num='rocky_contract01' WHERE alembic_version.version_num = 'queens_contract01';

COMMIT;

-- Running upgrade rocky_contract01 -> rocky_contract02 [rocky]
BEGIN;

UPDATE alembic_version SET version_num='rocky_contract02' WHERE alembic_version.version_num = 'rocky_contract01';

COMMIT;

-- Data migration train_migrate01_backend_to_store (release train) must be complete here, before train_contract01.
-- This script starts from an empty database, so there are no rows to migrate.

-- Running upgrade rocky_contract02 -> train_contract01 [train]
BEGIN;

UPDATE alembic_version SET version_num='train_contract01' WHERE alembic_version.version_num = 'rocky_contract02';

COMMIT;

-- Running upgrade train_contract01 -> ussuri_contract01 [ussuri]
BEGIN;

UPDATE alembic_version SET version_num='ussuri_contract01' WHERE alembic_version.version_num = 'train_contract01';

COMMIT;

-- Running upgrade ussuri_contract01 -> wallaby_contract01 [wallaby]
BEGIN;

UPDATE alembic_version SET version_num='wallaby_contract01' WHERE alembic_version.version_num = 'ussuri_contract01';

COMMIT;

-- Running upgrade wallaby_contract01 -> xena_contract01 [xena]
BEGIN;

UPDATE alembic_version SET version_num='xena_contract01' WHERE alembic_version.version_num = 'wallaby_contract01';

COMMIT;

-- Running upgrade xena_contract01 -> yoga_contract01 [yoga]
BEGIN;

UPDATE alembic_version SET version_num='yoga_contract01' WHERE alembic_version.version_num = 'xena_contract01';

COMMIT;

-- Running upgrade yoga_contract01 -> zed_contract01 [zed]
BEGIN;

UPDATE alembic_version SET version_num='zed_contract01' WHERE alembic_version.version_num = 'yoga_contract01';

COMMIT;

-- Running upgrade zed_contract01 -> 2023_1_contract01 [2023_1]
BEGIN;

UPDATE alembic_version SET version_num='2023_1_contract01' WHERE alembic_version.version_num = 'zed_contract01';

COMMIT;

-- Running upgrade 2023_1_contract01 -> 2024_1_contract01 [2024_1]
BEGIN;

DELETE FROM alembic_version WHERE alembic_version.version_num = '2023_1_contract01';

UPDATE alembic_version SET version_num='2024_1_contract01' WHERE alembic_version.version_num = '2024_1_expand01';

COMMIT;

