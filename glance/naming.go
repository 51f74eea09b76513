package glance

import "github.com/glance-manage/glance-manage/migrate"

// Naming is what glance-manage calls the tables and the lock it keeps in
// Glance's database for itself: the lock table glance_manage_lock, the
// fence tokens glance_manage_fence_*, the lock "glance-manage". Every
// Locker and Migrator working on a Glance database uses it.
var Naming = migrate.Naming{Prefix: "glance_manage_", Lock: "glance-manage", Program: "glance-manage"}
