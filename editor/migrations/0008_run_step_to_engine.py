# Runs and steps are the engine's records now (engine/models.py, same tables):
# they leave the editor's state here, after engine 0001 took them into its own
# and evaluation 0003 re-pointed Trial.run. Nothing changes in the database.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('editor', '0007_teams'),
        ('engine', '0001_initial'),
        ('evaluation', '0003_trial_run_in_engine'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name='Step'),
                migrations.DeleteModel(name='Run'),
            ],
        ),
    ]
