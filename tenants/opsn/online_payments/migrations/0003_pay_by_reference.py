# Paying without an account (issue 16): « Payer une facture » on the commune's site, its receipt
# e-mailed once, and the attempts counted to stop guessing.


from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('online_payments', '0002_money_that_arrives_reaches_people'),
    ]

    operations = [
        migrations.AddField(
            model_name='onlinepayment',
            name='by_reference',
            field=models.BooleanField(default=False, verbose_name='payé sans compte'),
        ),
        migrations.AddField(
            model_name='onlinepayment',
            name='receipt_sent_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='onlinepayment',
            name='receipt_to',
            field=models.EmailField(blank=True, max_length=254, verbose_name='quittance envoyée à'),
        ),
        migrations.CreateModel(
            name='ReferenceAttempt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(auto_now_add=True)),
                ('ip', models.GenericIPAddressField(blank=True, null=True)),
                ('number', models.CharField(max_length=30)),
                ('succeeded', models.BooleanField()),
            ],
            options={
                'indexes': [models.Index(fields=['number', 'at'], name='reference_attempts_number'), models.Index(fields=['ip', 'at'], name='reference_attempts_ip')],
            },
        ),
    ]
