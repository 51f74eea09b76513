-- glance-manage db expand --sql: mysql statements
-- Starting revision(s): none (an empty database). Nothing was connected to.
-- Revisions to apply (16): liberty mitaka01 mitaka02 ocata_expand01 pike_expand01 queens_expand01 rocky_expand01 rocky_expand02 train_expand01 ussuri_expand01 wallaby_expand01 xena_expand01 yoga_expand01 zed_expand01 2023_1_expand01 2024_1_expand01
-- Resulting revision(s): 2024_1_expand01

-- Running upgrade  -> liberty, liberty initial [liberty]
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

CREATE TABLE images (
	id VARCHAR(36) NOT NULL, 
	name VARCHAR(255) NULL, 
	size BIGINT NULL, 
	status VARCHAR(30) NOT NULL, 
	is_public BOOL NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NULL, 
	deleted_at DATETIME NULL, 
	deleted BOOL NOT NULL, 
	disk_format VARCHAR(20) NULL, 
	container_format VARCHAR(20) NULL, 
	checksum VARCHAR(32) NULL, 
	owner VARCHAR(255) NULL, 
	min_disk INTEGER NOT NULL, 
	min_ram INTEGER NOT NULL, 
	protected BOOL NOT NULL DEFAULT false, 
	virtual_size BIGINT NULL, 
	PRIMARY KEY (id), 
	CHECK (is_public IN (0, 1)), 
	CHECK (deleted IN (0, 1)), 
	CHECK (protected IN (0, 1)), 
	INDEX checksum_image_idx (checksum), 
	INDEX ix_images_deleted (deleted), 
	INDEX ix_images_is_public (is_public), 
	INDEX owner_image_idx (owner)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE image_properties (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	image_id VARCHAR(36) NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	value TEXT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NULL, 
	deleted_at DATETIME NULL, 
	deleted BOOL NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(image_id) REFERENCES images (id), 
	CONSTRAINT ix_image_properties_image_id_name UNIQUE (image_id, name), 
	CHECK (deleted IN (0, 1)), 
	INDEX ix_image_properties_deleted (deleted), 
	INDEX ix_image_properties_image_id (image_id)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE image_locations (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	image_id VARCHAR(36) NOT NULL, 
	value TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NULL, 
	deleted_at DATETIME NULL, 
	deleted BOOL NOT NULL, 
	meta_data TEXT NULL, 
	status VARCHAR(30) NOT NULL DEFAULT 'active', 
	PRIMARY KEY (id), 
	FOREIGN KEY(image_id) REFERENCES images (id), 
	CHECK (deleted IN (0, 1)), 
	INDEX ix_image_locations_deleted (deleted), 
	INDEX ix_image_locations_image_id (image_id)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE image_members (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	image_id VARCHAR(36) NOT NULL, 
	member VARCHAR(255) NOT NULL, 
	can_share BOOL NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NULL, 
	deleted_at DATETIME NULL, 
	deleted BOOL NOT NULL, 
	status VARCHAR(20) NOT NULL DEFAULT 'pending', 
	PRIMARY KEY (id), 
	FOREIGN KEY(image_id) REFERENCES images (id), 
	CONSTRAINT image_members_image_id_member_deleted_at_key UNIQUE (image_id, member, deleted_at), 
	CHECK (can_share IN (0, 1)), 
	CHECK (deleted IN (0, 1)), 
	INDEX ix_image_members_deleted (deleted), 
	INDEX ix_image_members_image_id (image_id), 
	INDEX ix_image_members_image_id_member (image_id, member)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE image_tags (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	image_id VARCHAR(36) NOT NULL, 
	value VARCHAR(255) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NULL, 
	deleted_at DATETIME NULL, 
	deleted BOOL NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(image_id) REFERENCES images (id), 
	CHECK (deleted IN (0, 1)), 
	INDEX ix_image_tags_image_id (image_id), 
	INDEX ix_image_tags_image_id_tag_value (image_id, value)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE tasks (
	id VARCHAR(36) NOT NULL, 
	type VARCHAR(30) NOT NULL, 
	status VARCHAR(30) NOT NULL, 
	owner VARCHAR(255) NOT NULL, 
	expires_at DATETIME NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NULL, 
	deleted_at DATETIME NULL, 
	deleted BOOL NOT NULL, 
	PRIMARY KEY (id), 
	CHECK (deleted IN (0, 1)), 
	INDEX ix_tasks_deleted (deleted), 
	INDEX ix_tasks_owner (owner), 
	INDEX ix_tasks_status (status), 
	INDEX ix_tasks_type (type), 
	INDEX ix_tasks_updated_at (updated_at)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE task_info (
	task_id VARCHAR(36) NOT NULL, 
	input TEXT NULL, 
	result TEXT NULL, 
	message TEXT NULL, 
	PRIMARY KEY (task_id), 
	FOREIGN KEY(task_id) REFERENCES tasks (id)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE metadef_namespaces (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	namespace VARCHAR(80) NOT NULL, 
	display_name VARCHAR(80) NULL, 
	description TEXT NULL, 
	visibility VARCHAR(32) NULL, 
	protected BOOL NULL, 
	owner VARCHAR(255) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_metadef_namespaces_namespace UNIQUE (namespace), 
	CHECK (protected IN (0, 1)), 
	INDEX ix_metadef_namespaces_owner (owner)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE metadef_resource_types (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	name VARCHAR(80) NOT NULL, 
	protected BOOL NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_metadef_resource_types_name UNIQUE (name), 
	CHECK (protected IN (0, 1))
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE metadef_namespace_resource_types (
	resource_type_id INTEGER NOT NULL, 
	namespace_id INTEGER NOT NULL, 
	properties_target VARCHAR(80) NULL, 
	prefix VARCHAR(80) NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NULL, 
	PRIMARY KEY (resource_type_id, namespace_id), 
	FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id), 
	FOREIGN KEY(resource_type_id) REFERENCES metadef_resource_types (id), 
	INDEX ix_metadef_ns_res_types_namespace_id (namespace_id)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE metadef_objects (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	namespace_id INTEGER NOT NULL, 
	name VARCHAR(80) NOT NULL, 
	description TEXT NULL, 
	required TEXT NULL, 
	json_schema TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id), 
	CONSTRAINT uq_metadef_objects_namespace_id_name UNIQUE (namespace_id, name), 
	INDEX ix_metadef_objects_name (name)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE metadef_properties (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	namespace_id INTEGER NOT NULL, 
	name VARCHAR(80) NOT NULL, 
	json_schema TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id), 
	CONSTRAINT uq_metadef_properties_namespace_id_name UNIQUE (namespace_id, name), 
	INDEX ix_metadef_properties_name (name)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE metadef_tags (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	namespace_id INTEGER NOT NULL, 
	name VARCHAR(80) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id), 
	CONSTRAINT uq_metadef_tags_namespace_id_name UNIQUE (namespace_id, name), 
	INDEX ix_metadef_tags_name (name)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE artifacts (
	id VARCHAR(36) NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	type_name VARCHAR(255) NOT NULL, 
	type_version_prefix BIGINT NOT NULL, 
	type_version_suffix VARCHAR(255) NULL, 
	type_version_meta VARCHAR(255) NULL, 
	version_prefix BIGINT NOT NULL, 
	version_suffix VARCHAR(255) NULL, 
	version_meta VARCHAR(255) NULL, 
	description TEXT NULL, 
	visibility VARCHAR(32) NOT NULL, 
	state VARCHAR(32) NOT NULL, 
	owner VARCHAR(255) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	deleted_at DATETIME NULL, 
	published_at DATETIME NULL, 
	PRIMARY KEY (id), 
	INDEX ix_artifact_name_and_version (name, version_prefix, version_suffix), 
	INDEX ix_artifact_owner (owner), 
	INDEX ix_artifact_state (state), 
	INDEX ix_artifact_type (type_name, type_version_prefix, type_version_suffix), 
	INDEX ix_artifact_visibility (visibility)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE artifact_blobs (
	id VARCHAR(36) NOT NULL, 
	artifact_id VARCHAR(36) NOT NULL, 
	size BIGINT NOT NULL, 
	checksum VARCHAR(32) NULL, 
	name VARCHAR(255) NOT NULL, 
	item_key VARCHAR(329) NULL, 
	position INTEGER NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(artifact_id) REFERENCES artifacts (id), 
	INDEX ix_artifact_blobs_artifact_id (artifact_id), 
	INDEX ix_artifact_blobs_name (name)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE artifact_dependencies (
	id VARCHAR(36) NOT NULL, 
	artifact_source VARCHAR(36) NOT NULL, 
	artifact_dest VARCHAR(36) NOT NULL, 
	artifact_origin VARCHAR(36) NOT NULL, 
	is_direct BOOL NOT NULL, 
	position INTEGER NULL, 
	name VARCHAR(36) NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(artifact_dest) REFERENCES artifacts (id), 
	FOREIGN KEY(artifact_origin) REFERENCES artifacts (id), 
	FOREIGN KEY(artifact_source) REFERENCES artifacts (id), 
	CHECK (is_direct IN (0, 1)), 
	INDEX ix_artifact_dependencies_dest_id (artifact_dest), 
	INDEX ix_artifact_dependencies_direct_dependencies (artifact_source, is_direct), 
	INDEX ix_artifact_dependencies_origin_id (artifact_origin), 
	INDEX ix_artifact_dependencies_source_id (artifact_source)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE artifact_properties (
	id VARCHAR(36) NOT NULL, 
	artifact_id VARCHAR(36) NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	string_value VARCHAR(255) NULL, 
	int_value INTEGER NULL, 
	numeric_value NUMERIC NULL, 
	bool_value BOOL NULL, 
	text_value TEXT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	position INTEGER NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(artifact_id) REFERENCES artifacts (id), 
	CHECK (bool_value IN (0, 1)), 
	INDEX ix_artifact_properties_artifact_id (artifact_id), 
	INDEX ix_artifact_properties_name (name)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE artifact_tags (
	id VARCHAR(36) NOT NULL, 
	artifact_id VARCHAR(36) NOT NULL, 
	value VARCHAR(255) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(artifact_id) REFERENCES artifacts (id), 
	INDEX ix_artifact_tags_artifact_id (artifact_id), 
	INDEX ix_artifact_tags_artifact_id_tag_value (artifact_id, value)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE artifact_blob_locations (
	id VARCHAR(36) NOT NULL, 
	blob_id VARCHAR(36) NOT NULL, 
	value TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	position INTEGER NULL, 
	status VARCHAR(36) NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(blob_id) REFERENCES artifact_blobs (id), 
	INDEX ix_artifact_blob_locations_blob_id (blob_id)
)ENGINE=InnoDB CHARSET=utf8;

INSERT INTO alembic_version (version_num) VALUES ('liberty');

-- Running upgrade liberty -> mitaka01, add index on created_at and updated_at columns of 'images' table [mitaka]
CREATE INDEX created_at_image_idx ON images (created_at);

CREATE INDEX updated_at_image_idx ON images (updated_at);

UPDATE alembic_version SET version_num='mitaka01' WHERE alembic_version.version_num = 'liberty';

-- Running upgrade mitaka01 -> mitaka02, update metadef os_nova_server [mitaka]
UPDATE metadef_resource_types SET name='OS::Nova::Server' WHERE metadef_resource_types.name = 'OS::Nova::Instance';

UPDATE alembic_version SET version_num='mitaka02' WHERE alembic_version.version_num = 'mitaka01';

-- Running upgrade mitaka02 -> ocata_expand01, add visibility to images [ocata]
ALTER TABLE images ADD COLUMN visibility ENUM('private','public','shared','community') NULL;

CREATE INDEX visibility_image_idx ON images (visibility);

ALTER TABLE images MODIFY is_public BOOL NULL;

DELIMITER $$
CREATE TRIGGER insert_visibility BEFORE INSERT ON images
FOR EACH ROW
BEGIN
    IF NEW.is_public IS NULL AND NEW.visibility IS NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'Invalid visibility value';
    ELSEIF NEW.is_public IS NOT NULL AND NEW.visibility IS NOT NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'Invalid visibility value';
    ELSEIF NEW.is_public IS NOT NULL THEN
        SET NEW.visibility = IF(NEW.is_public = 1, 'public', 'shared');
    ELSE
        SET NEW.is_public = IF(NEW.visibility = 'public', 1, 0);
    END IF;
END$$
DELIMITER ;

DELIMITER $$
CREATE TRIGGER update_visibility BEFORE UPDATE ON images
FOR EACH ROW
BEGIN
    IF NOT (NEW.is_public <=> OLD.is_public) THEN
        IF NEW.is_public IS NULL OR NOT (NEW.visibility <=> OLD.visibility) THEN
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'Invalid visibility value';
        END IF;
        SET NEW.visibility = IF(NEW.is_public <=> 1, 'public', 'shared');
    ELSEIF NOT (NEW.visibility <=> OLD.visibility) THEN
        IF NEW.visibility IS NULL THEN
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'Invalid visibility value';
        END IF;
        SET NEW.is_public = IF(NEW.visibility <=> 'public', 1, 0);
    END IF;
END$$
DELIMITER ;

UPDATE alembic_version SET version_num='ocata_expand01' WHERE alembic_version.version_num = 'mitaka02';

-- Running upgrade ocata_expand01 -> pike_expand01, empty expand for symmetry with pike_contract01 [pike]
UPDATE alembic_version SET version_num='pike_expand01' WHERE alembic_version.version_num = 'ocata_expand01';

-- Running upgrade pike_expand01 -> queens_expand01 [queens]
UPDATE alembic_version SET version_num='queens_expand01' WHERE alembic_version.version_num = 'pike_expand01';

-- Running upgrade queens_expand01 -> rocky_expand01, add os_hidden column to images table [rocky]
ALTER TABLE images ADD COLUMN os_hidden BOOL NOT NULL DEFAULT false;

CREATE INDEX os_hidden_image_idx ON images (os_hidden);

UPDATE alembic_version SET version_num='rocky_expand01' WHERE alembic_version.version_num = 'queens_expand01';

-- Running upgrade rocky_expand01 -> rocky_expand02, add os_hash_algo and os_hash_value columns to images table [rocky]
ALTER TABLE images ADD COLUMN os_hash_algo VARCHAR(64) NULL;

ALTER TABLE images ADD COLUMN os_hash_value VARCHAR(128) NULL;

CREATE INDEX os_hash_value_image_idx ON images (os_hash_value);

UPDATE alembic_version SET version_num='rocky_expand02' WHERE alembic_version.version_num = 'rocky_expand01';

-- Running upgrade rocky_expand02 -> train_expand01, empty expand for symmetry with train_contract01 [train]
UPDATE alembic_version SET version_num='train_expand01' WHERE alembic_version.version_num = 'rocky_expand02';

-- Running upgrade train_expand01 -> ussuri_expand01, empty expand for symmetry with ussuri_expand01 [ussuri]
UPDATE alembic_version SET version_num='ussuri_expand01' WHERE alembic_version.version_num = 'train_expand01';

-- Running upgrade ussuri_expand01 -> wallaby_expand01, add image_id, request_id, user columns to tasks table" [wallaby]
ALTER TABLE tasks ADD COLUMN image_id VARCHAR(36) NULL;

ALTER TABLE tasks ADD COLUMN request_id VARCHAR(64) NULL;

ALTER TABLE tasks ADD COLUMN user_id VARCHAR(64) NULL;

CREATE INDEX ix_tasks_image_id ON tasks (image_id);

UPDATE alembic_version SET version_num='wallaby_expand01' WHERE alembic_version.version_num = 'ussuri_expand01';

-- Running upgrade wallaby_expand01 -> xena_expand01, empty expand for symmetry with 2023_1_expand01 [xena]
UPDATE alembic_version SET version_num='xena_expand01' WHERE alembic_version.version_num = 'wallaby_expand01';

-- Running upgrade xena_expand01 -> yoga_expand01, empty expand for symmetry with 2023_1_expand01 [yoga]
UPDATE alembic_version SET version_num='yoga_expand01' WHERE alembic_version.version_num = 'xena_expand01';

-- Running upgrade yoga_expand01 -> zed_expand01, empty expand for symmetry with 2023_1_expand01 [zed]
UPDATE alembic_version SET version_num='zed_expand01' WHERE alembic_version.version_num = 'yoga_expand01';

-- Running upgrade zed_expand01 -> 2023_1_expand01, empty expand for symmetry with 2023_1_expand01 [2023_1]
UPDATE alembic_version SET version_num='2023_1_expand01' WHERE alembic_version.version_num = 'zed_expand01';

-- Running upgrade 2023_1_expand01 -> 2024_1_expand01, adds cache_node_reference and cached_images table(s) [2024_1]
CREATE TABLE node_reference (
	node_reference_id BIGINT NOT NULL AUTO_INCREMENT, 
	node_reference_url VARCHAR(255) NOT NULL, 
	PRIMARY KEY (node_reference_id), 
	CONSTRAINT uq_node_reference_node_reference_url UNIQUE (node_reference_url)
)ENGINE=InnoDB CHARSET=utf8;

CREATE TABLE cached_images (
	id BIGINT NOT NULL AUTO_INCREMENT, 
	image_id VARCHAR(36) NOT NULL, 
	last_accessed DATETIME NOT NULL, 
	last_modified DATETIME NOT NULL, 
	size BIGINT NOT NULL, 
	hits INTEGER NOT NULL, 
	checksum VARCHAR(32) NULL, 
	node_reference_id BIGINT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(node_reference_id) REFERENCES node_reference (node_reference_id), 
	CONSTRAINT ix_cached_images_image_id_node_reference_id UNIQUE (image_id, node_reference_id)
)ENGINE=InnoDB CHARSET=utf8;

UPDATE alembic_version SET version_num='2024_1_expand01' WHERE alembic_version.version_num = '2023_1_expand01';

