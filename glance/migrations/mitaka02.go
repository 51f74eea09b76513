package migrations

import (
	"github.com/glance-manage/glance-manage/migrate"
	s "github.com/glance-manage/glance-manage/migrate/schema"
)

// mitaka02 renames the metadef resource type OS::Nova::Instance to
// OS::Nova::Server. It changes data only.
func init() {
	register(&migrate.Revision{
		ID: "mitaka02", Down: "mitaka01", Release: "mitaka",
		Message: "update metadef os_nova_server",
		Ops: same(s.Exec{
			Desc:      "rename resource type OS::Nova::Instance to OS::Nova::Server",
			SQL:       []string{"UPDATE metadef_resource_types SET name='OS::Nova::Server' WHERE metadef_resource_types.name = 'OS::Nova::Instance'"},
			Skippable: true, // rows only
		}),
	})
}
