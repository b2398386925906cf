# Money that arrives reaches people (issue 14): what stops a paid payment from being recorded,
# the notifications received, the régie's decision on an anomaly, refused notifications.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('online_payments', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='RefusedNotification',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('idop', models.CharField(max_length=64, unique=True, verbose_name="identifiant de l'opération")),
                ('ip', models.GenericIPAddressField(blank=True, null=True)),
                ('count', models.PositiveIntegerField(default=1)),
                ('first_at', models.DateTimeField()),
                ('last_at', models.DateTimeField()),
            ],
            options={
                'ordering': ['-last_at'],
            },
        ),
        migrations.AddField(
            model_name='onlinepayment',
            name='failed_attempts',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='onlinepayment',
            name='notifications',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='onlinepayment',
            name='notified_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='onlinepayment',
            name='problem',
            field=models.CharField(blank=True, max_length=300, verbose_name="ce qui empêche l'enregistrement"),
        ),
        migrations.AddField(
            model_name='onlinepayment',
            name='problem_since',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='onlinepayment',
            name='resolution',
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name='onlinepayment',
            name='resolved_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='onlinepayment',
            name='resolved_by',
            field=models.CharField(blank=True, max_length=254),
        ),
    ]
